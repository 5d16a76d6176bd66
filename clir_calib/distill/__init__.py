"""Teacher-to-student distillation on bitext with pluggable alignment losses (OT, MSE, ...)."""

from clir_calib.distill.trainer import DistillResult, distill

__all__ = ["DistillResult", "distill"]
