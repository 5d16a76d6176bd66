"""Hash-keyed stage folders: a re-run skips finished work, an interrupted one continues.

Each stage output lives in ``ROOT/<stage>/<label>-<hash>`` where the hash covers the stage's
resolved config and the keys of its inputs. A stage is finished when its ``stage.json`` marker
exists (written last, atomically); a folder without the marker is unfinished work that the stage
function may resume (distillation picks up its last checkpoint).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clir_calib.atomic import write_json
from clir_calib.claims import check_apart
from clir_calib.config import config_hash
from clir_calib.errors import ConfigError
from clir_calib.locking import folder_lock

MARKER = "stage.json"
log = logging.getLogger(__name__)


@dataclass
class StageResult:
    """Where a stage's output is, whether it was reused, and how long it took this time."""

    stage: str
    label: str
    key: str
    folder: Path
    reused: bool
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)


class StageRunner:
    """Runs stage functions into hash-keyed folders under ``root``; ``force`` names stages to redo."""

    def __init__(self, root: Path, stages: tuple[str, ...], force: set[str] | None = None,
                 inputs: list[str] | None = None) -> None:
        unknown = sorted(set(force or ()) - set(stages))
        if unknown:
            raise ConfigError(f"unknown stage {unknown[0]!r} for --force; choose from {', '.join(stages)}")
        self.root = root
        self.stages = stages
        self.force = set(force or ())
        self.inputs = list(inputs or ())  # what --force must never delete (:mod:`clir_calib.claims`)
        self.results: list[StageResult] = []
        #: seconds a stage waits for another writer of its folder (0: refuse at once; executors with several
        #: workers wait, then find the stage finished)
        self.lock_wait = 0.0

    def folder(self, stage: str, label: str, key_parts: Any) -> tuple[Path, str]:
        key = config_hash(key_parts)
        return self.root / stage / f"{_safe(label)}-{key}", key

    def run(
        self,
        stage: str,
        label: str,
        key_parts: Any,
        work: Callable[[Path], dict[str, Any] | None],
    ) -> StageResult:
        """Run ``work(folder)`` unless the folder is already finished (and the stage not forced).

        ``work`` must leave its outputs in ``folder``; it may find partial outputs there from an
        interrupted run and continue them. Its returned dict is stored in the marker.
        """
        folder, key = self.folder(stage, label, key_parts)
        marker = folder / MARKER
        forced = stage in self.force and folder.exists()
        if forced:
            check_apart(folder, self.inputs, "--force")
        finished = None if forced else read_marker(marker)
        if finished is not None:
            result = StageResult(stage, label, key, folder, True, 0.0, finished)
        else:
            start = time.perf_counter()
            with folder_lock(folder, wait=self.lock_wait):  # two writers never write (or delete) one stage together
                finished = None if forced else read_marker(marker)  # another worker may have finished it meanwhile
                if finished is None:
                    if forced:
                        shutil.rmtree(folder)
                    folder.mkdir(parents=True, exist_ok=True)
                    info = work(folder) or {}
                    seconds = time.perf_counter() - start
                    write_json(marker, {"stage": stage, "label": label, "key": key, "seconds": round(seconds, 2),
                                        "info": info})
            if finished is not None:  # reused after all
                result = StageResult(stage, label, key, folder, True, 0.0, finished)
            else:
                result = StageResult(stage, label, key, folder, False, seconds, info)
        self.results.append(result)
        return result


def read_marker(marker: Path) -> dict[str, Any] | None:
    """A finished stage's info, or None when the stage must run: no marker, or a damaged one (it is redone,
    and rewritten, rather than trusted or crashed on)."""
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        log.warning("%s is damaged; the stage runs again", marker)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("info", {}), dict):
        log.warning("%s is not a stage marker; the stage runs again", marker)
        return None
    return dict(data.get("info", {}))


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label) or "stage"
