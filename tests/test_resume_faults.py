"""Resume and faults: a run resumed after a kill ends with the weights it would have ended with, or refuses
with one line; a full disk during a checkpoint names the file."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.config import load_config
from clir_calib.distill import trainer
from clir_calib.errors import DataError

RUNNER = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = ["seed=3", "device=cpu", "models.teacher.max_length=32", "models.student.max_length=32", "distill.max_pairs=40",
        "distill.batch_size=8", "distill.eval_every=1", "distill.save_every=1", "distill.val_pairs=16",
        "distill.lr=0.02", "distill.select=best", "distill.losses=[{name: mse}]"]


def _cfg(prepared: Path, model: Path):  # type: ignore[no-untyped-def]
    return load_config(None, [*FAST, f"data.prepared={prepared}", f"models.teacher.name={model}",
                              f"models.student.name={model}"])


class Stop(KeyboardInterrupt):
    pass


@pytest.fixture(scope="module")
def reference(prepared_dir: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("reference") / "run"
    return dict(json.loads(json.dumps(trainer.distill(_cfg(prepared_dir, tiny_model_dir), out).__dict__)))


def _interrupted(prepared: Path, model: Path, out: Path, at_step: int) -> None:
    def stop(step: int) -> None:
        if step == at_step:
            raise Stop()

    with pytest.raises(Stop):
        trainer.distill(_cfg(prepared, model), out, on_step=stop)


def test_a_kill_just_before_result_json_keeps_the_selected_weights(prepared_dir: Path, tiny_model_dir: Path,
                                                                    tmp_path: Path, reference: dict,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    real = trainer.write_json

    def killed(path, data):  # type: ignore[no-untyped-def]
        if Path(path).name == "result.json":
            raise Stop()
        real(path, data)

    monkeypatch.setattr(trainer, "write_json", killed)
    with pytest.raises(Stop):
        trainer.distill(_cfg(prepared_dir, tiny_model_dir), out)
    monkeypatch.setattr(trainer, "write_json", real)
    resumed = trainer.distill(_cfg(prepared_dir, tiny_model_dir), out, resume=True)
    assert resumed.selected_step == reference["selected_step"]
    assert resumed.val_accuracy_after == pytest.approx(reference["val_accuracy_after"])
    assert not (out / "best").exists()


def test_a_lost_log_is_refused_at_resume_not_after_training(prepared_dir: Path, tiny_model_dir: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "run"
    _interrupted(prepared_dir, tiny_model_dir, out, 2)
    (out / "log.jsonl").unlink()
    with pytest.raises(DataError, match="log.jsonl is missing or lost its records"):
        trainer.distill(_cfg(prepared_dir, tiny_model_dir), out, resume=True)
    assert not (out / "result.json").exists()


@pytest.mark.parametrize("damage", ["damaged", "deleted", "other-step"])
def test_a_lost_best_snapshot_is_refused_not_replaced_by_the_last_step(damage: str, prepared_dir: Path,
                                                                       tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _interrupted(prepared_dir, tiny_model_dir, out, 3)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    best = max((r for r in records if r.get("event") == "eval"), key=lambda r: (r["val_accuracy"], -r["step"]))
    if damage == "damaged":
        (out / "best" / "best.json").write_text("{not json")
    elif damage == "deleted":
        shutil.rmtree(out / "best")  # what the old advice said to do
    else:
        other = 1 if best["step"] != 1 else 2
        (out / "best" / "best.json").write_text(json.dumps({"step": other, "val_accuracy": 0.5}))
    with pytest.raises(DataError, match=f"records step {best['step']}"):
        trainer.distill(_cfg(prepared_dir, tiny_model_dir), out, resume=True)
    assert not (out / "result.json").exists()


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_naming_the_file(prepared_dir: Path, tiny_model_dir: Path,
                                                                           tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from clir_calib.distill import checkpoint

    def full(obj, handle):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")  # what the file object's write raises

    monkeypatch.setattr(checkpoint.torch, "save", full)
    args = ["distill", "--teacher", str(tiny_model_dir), "--student", str(tiny_model_dir), "--data",
            str(prepared_dir), "--out", str(tmp_path / "run"), "--no-progress"]
    result = RUNNER.invoke(app, args + [a for item in FAST for a in ("--set", item)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    assert "no space left" in line.lower() and "step-" in line
