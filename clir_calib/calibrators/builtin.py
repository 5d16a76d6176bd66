"""Registers the built-in calibrators through the same hook third-party plugins use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl


@hookimpl
def register_calibrators(register: Callable[[type[Any]], None]) -> None:
    """Filled by the calibrators work (identity, temperature, platt, isotonic, histogram, beta)."""
