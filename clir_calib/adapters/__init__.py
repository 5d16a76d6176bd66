"""Label-free calibration transfer: adapters between a seen-language calibrator and a target language."""

from clir_calib.adapters.base import AdaptedCalibrator, SourceScores, TargetScores, TransferAdapter

__all__ = ["AdaptedCalibrator", "SourceScores", "TargetScores", "TransferAdapter"]
