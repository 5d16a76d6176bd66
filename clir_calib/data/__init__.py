"""Datasets: ``prepare_data`` writes the prepared folder from a registered dataset, ``store`` reads it back."""

from clir_calib.data.prepare import BitextCount, PrepareSummary, TaskCount, prepare_data, prepare_multi30k
from clir_calib.data.store import (
    Bitext,
    RetrievalTask,
    available_tasks,
    load_bitext,
    load_manifest,
    load_task,
)

__all__ = [
    "Bitext",
    "BitextCount",
    "PrepareSummary",
    "RetrievalTask",
    "TaskCount",
    "available_tasks",
    "load_bitext",
    "load_manifest",
    "load_task",
    "prepare_data",
    "prepare_multi30k",
]
