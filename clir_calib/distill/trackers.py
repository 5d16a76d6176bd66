"""Experiment trackers for distillation (TensorBoard, W&B, MLflow) through Accelerate's tracker API.

``log.jsonl`` stays the record of a run; a tracker gets the same numbers (loss and its parts, learning
rate, val accuracy, Sinkhorn iterations, throughput) for watching runs live. The tracker packages are
optional: asking for one that is not installed is a one-line error naming the extra to install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from clir_calib.config import DistillConfig
from clir_calib.errors import ConfigError
from clir_calib.params import check_setting

PROJECT = "clir-calib"
TRACKER_DIR = "trackers"  # under the run folder: TensorBoard event files, MLflow's local store


def check_tracker(name: str | None) -> None:
    """A declared tracker (``config.TRACKERS``: each its package's name) whose package is importable."""
    if name is None:
        return
    check_setting(DistillConfig, "log_with", name, "distill.log_with")
    if importlib.util.find_spec(name) is None:
        raise ConfigError(f"distill.log_with={name} needs the {name} package: "
                          f"pip install 'clir-calib[{name}]'")


def tracker_values(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of a ``log.jsonl`` record, named for a dashboard (``train/loss``, ``val/accuracy``...)."""
    values = {}
    for key, value in record.items():
        if key in ("event", "step", "select") or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        group = "val" if key.startswith("val_") else "train"
        values[f"{group}/{key.removeprefix('val_')}"] = float(value)
    return values


def hyperparameters(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved config flattened to ``section.key`` scalars (what every tracker accepts)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, str | int | float | bool) or node is None:
            flat[prefix] = "" if node is None else node
        else:
            flat[prefix] = str(node)

    walk("", config)
    return flat


def tracker_dir(run: Path) -> Path:
    return run / TRACKER_DIR
