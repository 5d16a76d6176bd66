"""``log.jsonl``: one JSON record per line, appended as training goes; cut back on resume."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from clir_calib.atomic import atomic_file

LOG_FILE = "log.jsonl"


def read_log(path: Path) -> list[dict[str, Any]]:
    """The complete records of ``path`` (a line torn by a kill is skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one record and flush it to disk (a kill loses at most the line being written)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, allow_nan=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def truncate_log(path: Path, last_step: int) -> list[dict[str, Any]]:
    """Keep the records up to ``last_step`` (the checkpoint resumed from); return them."""
    kept = [r for r in read_log(path) if int(r.get("step", 0)) <= last_step]
    with atomic_file(path) as handle:
        for record in kept:
            handle.write(json.dumps(record, allow_nan=False) + "\n")
    return kept
