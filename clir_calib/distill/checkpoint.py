"""Training checkpoints: trainable weights (safetensors), optimizer/scheduler/RNG state, data position.

A checkpoint folder ``checkpoints/step-NNNNNNN/`` appears atomically (complete or not at all):

* ``trainable.safetensors``: every parameter that is trained (the student's, minus frozen word
  embeddings, plus the projection when there is one); frozen ones come back from the student init.
* ``training_state.pt``: optimizer, scheduler and RNG states (loaded with ``weights_only=True``).
* ``position.json``: global step, epoch, next micro-batch of that epoch.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors

from clir_calib.atomic import atomic_dir, write_json
from clir_calib.errors import DataError

CHECKPOINTS = "checkpoints"
_NAME = re.compile(r"^step-(\d+)$")


@dataclass
class Position:
    """Where training stands: optimizer steps done, the epoch, and its next micro-batch."""

    step: int = 0
    epoch: int = 0
    micro_batch: int = 0


def capture_rng() -> dict[str, Any]:
    """Every RNG that training may draw from (dropout uses torch's)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": _plain(random.getstate())}
    legacy: Any = np.random.get_state(legacy=True)
    state["numpy"] = [legacy[0], torch.from_numpy(legacy[1].copy()), *legacy[2:]]
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuples(state["python"]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy(), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def save_checkpoint(
    run_dir: Path,
    position: Position,
    trainable: dict[str, torch.Tensor],
    optimizer: Any,
    scheduler: Any,
    keep: int = 2,
) -> Path:
    """Write checkpoint ``step-<step>`` atomically and keep only the newest ``keep``."""
    folder = run_dir / CHECKPOINTS / f"step-{position.step:07d}"
    with atomic_dir(folder, overwrite=True) as tmp:
        # written through Python file objects: a full disk is then an OSError naming the file, not a RuntimeError
        with open(tmp / "trainable.safetensors", "wb") as handle:
            handle.write(save_safetensors({k: v.detach().contiguous().cpu() for k, v in trainable.items()}))
        with open(tmp / "training_state.pt", "wb") as handle:
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "rng": capture_rng()}, handle)
        write_json(tmp / "position.json", asdict(position))
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    root = run_dir / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


@dataclass
class LoadedCheckpoint:
    position: Position
    trainable: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: dict[str, Any]


def load_checkpoint(folder: Path) -> LoadedCheckpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; damage is a one-line :class:`DataError`."""
    try:
        position = Position(**json.loads((folder / "position.json").read_text(encoding="utf-8")))
        trainable = load_file(folder / "trainable.safetensors")
        state = torch.load(folder / "training_state.pt", map_location="cpu", weights_only=True)
    except Exception as error:  # a torn or foreign file fails in many ways (pickle, JSON, safetensors)
        raise DataError(
            f"checkpoint {folder} is unreadable ({type(error).__name__}); delete it to resume from an earlier one"
        ) from None
    try:
        return LoadedCheckpoint(position, trainable, state["optimizer"], state["scheduler"], state["rng"])
    except (KeyError, TypeError):
        raise DataError(f"checkpoint {folder} lacks training state; delete it to resume from an earlier one") from None
