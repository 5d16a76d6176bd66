"""Encoders and offline-first model resolution.

Imports are lazy so that loading plugins (which imports :mod:`clir_calib.models.builtin`) does
not pull in torch and transformers.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Encoder": "clir_calib.models.encoder",
    "EncoderSettings": "clir_calib.models.settings",
    "is_e5_name": "clir_calib.models.settings",
    "resolve_model": "clir_calib.models.resolution",
    "default_cache_dir": "clir_calib.models.resolution",
    "offline_names": "clir_calib.models.resolution",
    "resolve_device": "clir_calib.models.device",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'clir_calib.models' has no attribute {name!r}")
