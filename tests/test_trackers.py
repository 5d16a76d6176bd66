"""Trackers: distill --log-with tensorboard writes the training log as TensorBoard scalars, offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.distill.trackers import check_tracker, hyperparameters, tracker_values
from clir_calib.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = ["distill.batch_size=8", "distill.max_pairs=32", "distill.epochs=2", "distill.eval_every=3",
        "distill.save_every=2", "distill.lr=1e-3", "distill.val_pairs=16", "device=cpu"]


def test_distill_logs_loss_lr_accuracy_and_sinkhorn_to_tensorboard(prepared_dir: Path, tiny_model_dir: Path,
                                                                   tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    args = ["distill", "--loss", "ot+0.5*mse", "--teacher", str(tiny_model_dir), "--student", str(tiny_model_dir),
            "--data", str(prepared_dir), "--out", str(out), "--no-progress", "--log-with", "tensorboard"]
    for item in FAST:
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    events = list((out / "trackers").rglob("events.out.tfevents.*"))
    assert events, list((out / "trackers").rglob("*"))
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    assert {"train/loss", "train/loss_ot", "train/loss_mse", "train/lr", "train/sinkhorn_iterations",
            "val/accuracy"} <= tags
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    logged = {r["step"]: r["val_accuracy"] for r in log if r.get("event") in ("eval", "final")}
    seen = {e.step: e.value for e in accumulator.Scalars("val/accuracy")}
    assert seen.keys() == logged.keys() and all(seen[s] == pytest.approx(logged[s], abs=1e-6) for s in seen)


def test_unknown_or_missing_tracker_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="one of tensorboard, wandb, mlflow"):
        check_tracker("neptune")
    monkeypatch.setitem(sys.modules, "mlflow", None)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install 'clir-calib\[mlflow\]'"):
        check_tracker("mlflow")


def test_tracker_values_and_hyperparameters_are_flat_numbers() -> None:
    record = {"event": "eval", "step": 3, "val_accuracy": 0.5, "loss": 1.25, "lr": 1e-3, "select": "best"}
    assert tracker_values(record) == {"val/accuracy": 0.5, "train/loss": 1.25, "train/lr": 1e-3}
    flat = hyperparameters({"distill": {"lr": 1e-3, "losses": [{"name": "ot"}], "log_with": None}})
    assert flat == {"distill.lr": 1e-3, "distill.losses": "[{'name': 'ot'}]", "distill.log_with": ""}
