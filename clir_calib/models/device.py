"""Pick the torch device: ``auto`` means CUDA when present, else CPU."""

from __future__ import annotations

import torch

from clir_calib.errors import ConfigError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    choice = (device or "auto").strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but no CUDA GPU is visible; use --device cpu or auto")
        return torch.device(choice)
    raise ConfigError(f"unknown device {device!r}; choose auto, cpu or cuda")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for inference on ``device``: bf16 (fp16 on old GPUs); None on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
