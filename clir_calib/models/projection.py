"""The learned linear map of a student whose width differs from its teacher's (``projection.safetensors``)."""

from __future__ import annotations

from pathlib import Path

import torch

from clir_calib.errors import ModelError

PROJECTION_FILE = "projection.safetensors"


def load_projection(folder: Path, width: int) -> torch.nn.Linear | None:
    """The linear map in ``folder/projection.safetensors`` (weight ``[out, width]``, bias), if any."""
    path = folder / PROJECTION_FILE
    if not path.is_file():
        return None
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    weight, bias = tensors.get("weight"), tensors.get("bias")
    if weight is None or bias is None or weight.ndim != 2 or weight.shape[1] != width or bias.shape != weight.shape[:1]:
        raise ModelError(f"{path} is not a {width}-wide linear projection (weight/bias); delete it or re-run distill")
    layer = torch.nn.Linear(width, int(weight.shape[0]))
    with torch.no_grad():
        layer.weight.copy_(weight.float())
        layer.bias.copy_(bias.float())
    return layer.eval().requires_grad_(False)
