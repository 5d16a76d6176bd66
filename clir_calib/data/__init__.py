"""Datasets: ``prepare_data`` writes the prepared folder from a registered dataset, ``store`` reads it back.

Imports are lazy so that loading plugins (which imports :mod:`clir_calib.data.builtin`) does not pull in
the ``datasets`` library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types for type checkers; at run time the names load on first use
    from clir_calib.data.prepare import BitextCount, PrepareSummary, TaskCount, prepare_data, prepare_multi30k
    from clir_calib.data.store import (
        Bitext,
        RetrievalTask,
        available_tasks,
        load_bitext,
        load_manifest,
        load_task,
    )

_EXPORTS = {
    "BitextCount": "clir_calib.data.prepare",
    "PrepareSummary": "clir_calib.data.prepare",
    "TaskCount": "clir_calib.data.prepare",
    "prepare_data": "clir_calib.data.prepare",
    "prepare_multi30k": "clir_calib.data.prepare",
    "Bitext": "clir_calib.data.store",
    "RetrievalTask": "clir_calib.data.store",
    "available_tasks": "clir_calib.data.store",
    "load_bitext": "clir_calib.data.store",
    "load_manifest": "clir_calib.data.store",
    "load_task": "clir_calib.data.store",
}

__all__ = ["Bitext", "BitextCount", "PrepareSummary", "RetrievalTask", "TaskCount", "available_tasks", "load_bitext", "load_manifest", "load_task", "prepare_data", "prepare_multi30k"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'clir_calib.data' has no attribute {name!r}")
