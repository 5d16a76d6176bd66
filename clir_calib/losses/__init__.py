"""Alignment losses for teacher-to-student distillation (registered as plugins).

Imports are lazy so that loading plugins (which imports :mod:`clir_calib.losses.builtin`) does
not pull in torch: every command, ``--help`` included, starts without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types for type checkers; at run time the names load on first use
    from clir_calib.losses.base import AlignmentLoss, EncodedBatch

_EXPORTS = {
    "AlignmentLoss": "clir_calib.losses.base",
    "EncodedBatch": "clir_calib.losses.base",
}

__all__ = ["AlignmentLoss", "EncodedBatch"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'clir_calib.losses' has no attribute {name!r}")
