"""Label-free calibration transfer: adapters between a seen-language calibrator and a target language.

Imports are lazy, as in :mod:`clir_calib.models`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types for type checkers; at run time the names load on first use
    from clir_calib.adapters.base import AdaptedCalibrator, SourceScores, TargetScores, TransferAdapter

_EXPORTS = {
    "AdaptedCalibrator": "clir_calib.adapters.base",
    "SourceScores": "clir_calib.adapters.base",
    "TargetScores": "clir_calib.adapters.base",
    "TransferAdapter": "clir_calib.adapters.base",
}

__all__ = ["AdaptedCalibrator", "SourceScores", "TargetScores", "TransferAdapter"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'clir_calib.adapters' has no attribute {name!r}")
