"""Registers the built-in alignment losses through the same hook third-party plugins use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl


@hookimpl
def register_alignment_losses(register: Callable[[type[Any]], None]) -> None:
    from clir_calib.losses.mse import MSEAlignmentLoss
    from clir_calib.losses.ot import OTAlignmentLoss
    from clir_calib.losses.score_kl import ScoreKLAlignmentLoss

    register(MSEAlignmentLoss)
    register(OTAlignmentLoss)
    register(ScoreKLAlignmentLoss)
