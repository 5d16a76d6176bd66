"""Best-checkpoint selection (``distill.select: best``), like Trainer's ``load_best_model_at_end``.

At every validation (step 0 included: the undistilled student is a candidate too) the trainable
weights are kept in ``RUN/best/`` when the val bitext accuracy of the *seen* language beats every
earlier one by more than ``distill.min_delta`` (ties keep the earlier step): the same test of an improvement
as early stopping's (:func:`clir_calib.distill.stopping.improves`). The run ends with those weights. The snapshot is written
atomically and survives a kill; a resumed run drops a snapshot from beyond the step it resumes at,
since the resumed run will validate that step again and reach the same decision.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from clir_calib.atomic import atomic_dir, write_json
from clir_calib.distill.stopping import improves
from clir_calib.errors import DataError
from clir_calib.stored import read_json

BEST_DIR = "best"
BEST_FILE = "best.json"
WEIGHTS_FILE = "trainable.safetensors"


@dataclass
class Selected:
    """The step whose weights a run keeps, and its val accuracy."""

    step: int
    val_accuracy: float


class BestSnapshot:
    """Keeps the trainable weights of the best validation so far in ``run_dir/best``."""

    def __init__(self, run_dir: Path, min_delta: float = 0.0) -> None:
        self.folder = run_dir / BEST_DIR
        self.min_delta = min_delta
        self.best: Selected | None = None

    def offer(self, step: int, accuracy: float, trainable: dict[str, torch.Tensor]) -> bool:
        """Keep these weights if ``accuracy`` improves on the best so far; return whether they were kept."""
        if not improves(accuracy, None if self.best is None else self.best.val_accuracy, self.min_delta):
            return False
        with atomic_dir(self.folder, overwrite=True) as tmp:
            save_file({k: v.detach().contiguous().cpu() for k, v in trainable.items()}, tmp / WEIGHTS_FILE)
            write_json(tmp / BEST_FILE, {"step": step, "val_accuracy": accuracy})
        self.best = Selected(step, accuracy)
        return True

    def resume(self, step: int, records: list[dict[str, Any]]) -> None:
        """Pick up the snapshot of an interrupted run that resumes at ``step``; ``records``: its ``log.jsonl``.

        The snapshot must be the best validation the log records up to ``step``: when it is missing, damaged or
        another step, those weights are lost, and resuming would silently end with other ones, so it is refused.
        """
        logged = logged_best(records, step, self.min_delta)
        try:
            data = read_json(self.folder / BEST_FILE, "", expect=dict) if (self.folder / BEST_FILE).is_file() else None
            found = Selected(int(data["step"]), float(data["val_accuracy"])) if data is not None else None
        except (DataError, ValueError, KeyError, TypeError):
            found, problem = None, "is damaged"
        else:
            problem = "is missing" if found is None else f"holds step {found.step}"
        if found is not None and found.step > step:  # the resumed run validates that step again, deciding the same
            shutil.rmtree(self.folder, ignore_errors=True)
            self.best = None
            return
        if logged is not None and (found is None or found.step != logged.step):
            raise DataError(f"{self.folder} {problem}, but log.jsonl records step {logged.step} (val accuracy "
                            f"{logged.val_accuracy:.4g}) as the best so far; its weights are lost, so the run cannot "
                            "end with select: best: distill again into a new --out")
        self.best = found

    def load(self) -> dict[str, torch.Tensor]:
        """The kept weights (a one-line error when the snapshot is missing or torn)."""
        try:
            return load_file(self.folder / WEIGHTS_FILE)
        except Exception as error:  # missing or torn safetensors fail in several ways
            raise DataError(
                f"best-checkpoint weights in {self.folder} are unreadable ({type(error).__name__}); "
                "rerun the distillation"
            ) from None

    def discard(self) -> None:  # only after result.json: a run killed before it resumes with its selection
        shutil.rmtree(self.folder, ignore_errors=True)


def logged_best(records: list[dict[str, Any]], step: int, min_delta: float = 0.0) -> Selected | None:
    """The best validation ``log.jsonl`` records up to ``step`` (gains up to ``min_delta``: the earlier step)."""
    best: Selected | None = None
    for record in records:
        if record.get("event") not in ("eval", "final") or not isinstance(record.get("step"), int) or record["step"] > step:
            continue
        accuracy = record.get("val_accuracy")
        if isinstance(accuracy, int | float) and improves(accuracy, None if best is None else best.val_accuracy,
                                                           min_delta):
            best = Selected(int(record["step"]), float(accuracy))
    return best
