"""``distill.select: best`` keeps the weights of the step with the highest val accuracy (seen language)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from clir_calib.config import load_config
from clir_calib.distill import distill
from clir_calib.distill import loop as training_loop

FAST = ["distill.batch_size=8", "distill.max_pairs=32", "distill.epochs=2", "distill.eval_every=2",
        "distill.save_every=2", "distill.lr=1e-3", "distill.val_pairs=16", "models.teacher.max_length=24",
        "models.student.max_length=24", "device=cpu"]
#: val accuracy at steps 0, 2, 4, 6, 8 (the last): made to peak at step 4
SCRIPTED = [0.30, 0.50, 0.90, 0.40, 0.20]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see conftest.py


@pytest.fixture
def scripted_accuracy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Replace the val accuracy by a scripted curve that peaks early."""
    values = list(SCRIPTED)

    def fake(queries: torch.Tensor, documents: torch.Tensor) -> float:
        return values.pop(0)

    monkeypatch.setattr(training_loop, "top1_accuracy", fake)  # where the loop looks it up
    yield values


def _overrides(prepared: Path, model: Path, *extra: str) -> list[str]:
    return [f"data.prepared={prepared}", f"models.teacher.name={model}", f"models.student.name={model}", *FAST, *extra]


def test_best_restores_the_peak_step_and_says_so(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path, scripted_accuracy: list[float]
) -> None:
    cfg = load_config(None, _overrides(prepared_dir, tiny_model_dir, "distill.select=best"))
    seen: dict[int, dict[str, torch.Tensor]] = {}
    out = tmp_path / "best"

    # the trainable weights of each step, read back from its checkpoint (save_every = eval_every = 2)
    result = distill(cfg, out, on_step=lambda step: seen.__setitem__(step, _checkpoint_weights(out, step)))
    assert scripted_accuracy == []  # every scripted value was used: 5 validations
    assert result.select == "best" and result.selected_step == 4 and result.steps == 8
    assert result.val_accuracy_after == pytest.approx(0.90) and result.val_accuracy_last == pytest.approx(0.20)
    saved = load_file(out / "model.safetensors")
    at_peak = seen[4]
    assert at_peak, "checkpoint of step 4 was not captured"
    for name, tensor in at_peak.items():
        assert torch.equal(saved[name], tensor), name
    last = seen[6]  # a later step differs, so the test can tell the steps apart
    assert any(not torch.equal(saved[n], t) for n, t in last.items())
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["event"] == "select" and log[-1]["selected_step"] == 4
    summary = json.loads((out / "result.json").read_text())
    assert summary["selected_step"] == 4 and summary["select"] == "best"
    assert "step 4 of 8" in (out / "README.md").read_text()
    assert not (out / "best").exists()  # the snapshot became the model


def _checkpoint_weights(out: Path, step: int) -> dict[str, torch.Tensor]:
    folder = out / "checkpoints" / f"step-{step:07d}"
    if not folder.is_dir():
        return {}
    return {f"{k}": v for k, v in load_file(folder / "trainable.safetensors").items()}


def test_last_keeps_the_final_step(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path, scripted_accuracy: list[float]
) -> None:
    cfg = load_config(None, _overrides(prepared_dir, tiny_model_dir, "distill.select=last"))
    result = distill(cfg, tmp_path / "last")
    assert result.selected_step == 8 and result.val_accuracy_after == pytest.approx(0.20)


def test_best_survives_a_resume(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path, scripted_accuracy: list[float]
) -> None:
    """Killed after the peak: the resumed run still ends with the step-4 weights."""
    cfg = load_config(None, _overrides(prepared_dir, tiny_model_dir, "distill.select=best"))
    out = tmp_path / "resumed"

    class Stop(Exception):
        pass

    def stop(step: int) -> None:
        if step == 6:
            raise Stop

    with pytest.raises(Stop):
        distill(cfg, out, on_step=stop)
    assert json.loads((out / "best" / "best.json").read_text())["step"] == 4
    peak = _checkpoint_weights(out, 4)
    scripted_accuracy[:] = [0.20]  # the resumed run validates only the last step (6 was checkpointed)
    result = distill(cfg, out, resume=True)
    assert result.resumed_from_step == 6 and result.selected_step == 4
    saved = load_file(out / "model.safetensors")
    for name, tensor in peak.items():
        assert torch.equal(saved[name], tensor), name


def test_select_must_be_known(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from clir_calib.errors import ConfigError

    with pytest.raises(ConfigError, match="distill.select"):
        distill(load_config(None, _overrides(prepared_dir, tiny_model_dir, "distill.select=first")), tmp_path / "x")
    with pytest.raises(ConfigError, match="max_pairs is a list"):
        distill(load_config(None, _overrides(prepared_dir, tiny_model_dir, "distill.max_pairs=[8,16]")), tmp_path / "y")
