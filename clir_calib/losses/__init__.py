"""Alignment losses for teacher-to-student distillation (registered as plugins)."""

from clir_calib.losses.base import AlignmentLoss, EncodedBatch

__all__ = ["AlignmentLoss", "EncodedBatch"]
