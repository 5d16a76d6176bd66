"""Early stopping (distill.patience, min_delta), max_steps, and the reason every run gives for ending."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clir_calib.config import DistillConfig
from clir_calib.distill import distill
from clir_calib.distill.selection import logged_best
from clir_calib.distill.stopping import Patience, improves
from clir_calib.errors import ConfigError
from clir_calib.params import keyed_fields
from tests.test_distill import tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: val accuracy by step, scripted: after step 2 it never improves by more than 0.01 (until it is too late)
SCRIPT = {0: 0.10, 1: 0.20, 2: 0.40, 3: 0.405, 4: 0.30, 5: 0.39, 6: 0.38, 7: 0.50, 8: 0.60}


def test_patience_counts_checks_without_a_gain_above_min_delta() -> None:
    stopping = Patience(2, min_delta=0.01)
    decisions = [stopping.offer(SCRIPT[step]) for step in range(6)]
    assert decisions == [False, False, False, False, True, True]  # 0.405 is not 0.01 above 0.40
    assert stopping.best == 0.40
    assert not improves(float("nan"), None) and improves(0.1, None) and not improves(0.405, 0.40, 0.01)
    assert not any(Patience(None).offer(value) for value in SCRIPT.values())
    replayed = Patience(2, 0.01).replay([{"event": "eval", "step": s, "val_accuracy": v} for s, v in SCRIPT.items()],
                                        up_to=4)
    assert (replayed.best, replayed.stale, replayed.exhausted) == (0.40, 2, True)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    from clir_calib.distill.loop import TrainingLoop

    def evaluate(self: TrainingLoop) -> float:
        self.last_accuracy = SCRIPT[self.position.step]
        return self.last_accuracy

    monkeypatch.setattr(TrainingLoop, "_evaluate", evaluate)


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_a_run_stops_after_patience_checks_keeps_the_best_and_says_why(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path, scripted: None
) -> None:
    cfg = tiny_config(prepared_dir, tiny_model_dir, tiny_model_dir, "distill.eval_every=1", "distill.patience=2",
                      "distill.min_delta=0.01", "distill.select=best")
    result = distill(cfg, tmp_path / "run")
    # stopped at step 4 (steps 3 and 4 were not 0.01 above step 2's 0.40); kept step 2, the last improvement:
    # step 3's 0.405 is higher by less than min_delta, noise by the run's own rule, so the kept step lies
    # `patience` checks before the stop
    assert result.steps == 4 and result.selected_step == 2 and result.val_accuracy_after == 0.40
    assert result.stop_reason.startswith("early stop: no val accuracy gain above 0.01 in 2 checks")
    log = _log(tmp_path / "run")
    assert [r["event"] for r in log[-2:]] == ["stop", "select"] and log[-2]["step"] == 4
    assert json.loads((tmp_path / "run" / "result.json").read_text())["stop_reason"] == result.stop_reason
    assert "early stop" in (tmp_path / "run" / "README.md").read_text()


def test_a_resumed_run_stops_where_an_uninterrupted_one_does(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path, scripted: None
) -> None:
    cfg = tiny_config(prepared_dir, tiny_model_dir, tiny_model_dir, "distill.eval_every=1", "distill.patience=2",
                      "distill.min_delta=0.01", "distill.select=best", "distill.save_every=1")

    def killed(step: int) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distill(cfg, tmp_path / "run", on_step=killed)
    result = distill(cfg, tmp_path / "run", resume=True)
    assert (result.steps, result.selected_step, result.resumed_from_step) == (4, 2, 3)


def test_select_best_and_its_resume_use_the_same_improvement_as_patience() -> None:
    records = [{"event": "eval", "step": s, "val_accuracy": v} for s, v in SCRIPT.items()]
    assert logged_best(records, 6, min_delta=0.01).step == 2  # 0.405 at step 3 is within 0.01 of 0.40
    assert logged_best(records, 6).step == 3
    assert logged_best(records, 8, min_delta=0.01).step == 8


def test_max_steps_ends_the_run_with_its_reason(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(prepared_dir, tiny_model_dir, tiny_model_dir, "distill.max_steps=3", "distill.select=last")
    result = distill(cfg, tmp_path / "run")
    assert result.steps == 3 and result.stop_reason == "reached max_steps (3)"


def test_patience_needs_select_best(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(prepared_dir, tiny_model_dir, tiny_model_dir, "distill.patience=2", "distill.select=last")
    with pytest.raises(ConfigError, match="select=best"):
        distill(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_new_settings_at_their_defaults_leave_stage_keys_unchanged() -> None:
    keyed = keyed_fields(DistillConfig())
    assert not {"patience", "min_delta", "max_steps"} & set(keyed)
    assert keyed_fields(DistillConfig(patience=3))["patience"] == 3
