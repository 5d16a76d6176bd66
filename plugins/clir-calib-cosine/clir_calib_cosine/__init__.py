"""An out-of-tree clir-calib plugin: sentence-level cosine alignment.

The hook imports the loss inside the function: a plugin's top-level module stays light (no torch), so that
``clir-calib --help`` and every command start without paying for what they do not use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib import hookimpl


@hookimpl
def register_alignment_losses(register: Callable[[type[Any]], None]) -> None:
    from clir_calib_cosine.loss import CosineAlignmentLoss

    register(CosineAlignmentLoss)
