"""Best-checkpoint selection (``distill.select: best``), like Trainer's ``load_best_model_at_end``.

At every validation (step 0 included: the undistilled student is a candidate too) the trainable
weights are kept in ``RUN/best/`` when the val bitext accuracy of the *seen* language beats every
earlier one (ties keep the earlier step). The run ends with those weights. The snapshot is written
atomically and survives a kill; a resumed run drops a snapshot from beyond the step it resumes at,
since the resumed run will validate that step again and reach the same decision.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from clir_calib.atomic import atomic_dir, write_json
from clir_calib.errors import DataError

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

    def __init__(self, run_dir: Path) -> None:
        self.folder = run_dir / BEST_DIR
        self.best: Selected | None = None

    def offer(self, step: int, accuracy: float, trainable: dict[str, torch.Tensor]) -> bool:
        """Keep these weights if ``accuracy`` beats the best so far; return whether they were kept."""
        if accuracy != accuracy or (self.best is not None and accuracy <= self.best.val_accuracy):
            return False
        with atomic_dir(self.folder, overwrite=True) as tmp:
            save_file({k: v.detach().contiguous().cpu() for k, v in trainable.items()}, tmp / WEIGHTS_FILE)
            write_json(tmp / BEST_FILE, {"step": step, "val_accuracy": accuracy})
        self.best = Selected(step, accuracy)
        return True

    def resume(self, step: int) -> None:
        """Pick up the snapshot of an interrupted run that resumes at ``step``."""
        marker = self.folder / BEST_FILE
        if not marker.is_file():
            self.best = None
            return
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            found = Selected(int(data["step"]), float(data["val_accuracy"]))
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{marker} is corrupt; delete {self.folder} and resume again") from None
        if found.step > step:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.best = None
        else:
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

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
