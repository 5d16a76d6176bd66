"""Registers the built-in datasets through the same hook third-party plugins use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl


@hookimpl
def register_datasets(register: Callable[[type[Any]], None]) -> None:
    from clir_calib.data.folder import FolderDataset
    from clir_calib.data.multi30k import Multi30kDataset

    register(Multi30kDataset)
    register(FolderDataset)
