"""The trainable side: the student encoder, an optional width projection, frozen word embeddings.

Word embeddings are frozen by default: they are most of an XLM-R-vocabulary model's parameters
(96M of e5-small's 118M), so freezing them makes AdamW on CPU much cheaper and keeps the
vocabulary that distillation never sees (other languages) where the base model had it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from clir_calib.errors import ConfigError
from clir_calib.models.batch import EncodedBatch
from clir_calib.models.encoder import PROJECTION_FILE, Encoder

__all__ = ["PROJECTION_FILE", "Student", "parameter_groups", "warmup_linear_schedule"]
PROJECTION_PREFIX = "projection."


class Student(nn.Module):
    """The student encoder plus, when widths differ and it is allowed, a learned linear map."""

    def __init__(self, encoder: Encoder, teacher_width: int, projection: bool, freeze_embeddings: bool) -> None:
        super().__init__()
        self.encoder = encoder
        width = encoder.hidden_size
        if width != teacher_width and not projection:
            raise ConfigError(
                f"teacher width {teacher_width} != student width {width}; use models of the same width "
                "or set distill.projection=true to learn a linear map"
            )
        self.projection: Any = nn.Linear(width, teacher_width) if width != teacher_width else None
        if freeze_embeddings:
            encoder.model.get_input_embeddings().weight.requires_grad_(False)

    def encode_batch(self, texts: Sequence[str], role: str) -> EncodedBatch:
        """Token states and pooled vector with gradients, in the teacher's space."""
        batch = self.encoder.encode_batch(texts, role)
        if self.projection is None:
            return batch
        states = self.projection(batch.token_states)
        pooled = self.encoder.pool(states, batch.attention_mask)
        return EncodedBatch(states, batch.attention_mask, pooled, batch.special_tokens_mask)

    def project(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Pooled student embeddings mapped into the teacher's space (identity without projection)."""
        if self.projection is None:
            return embeddings
        layer = _unwrap(self.projection)
        weight = layer.weight.detach().cpu().float()
        bias = layer.bias.detach().cpu().float()
        return embeddings @ weight.T + bias

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The parameters that training changes, by name (projection ones prefixed ``projection.``)."""
        state = {name: p for name, p in _unwrap(self.encoder.model).named_parameters() if p.requires_grad}
        if self.projection is not None:
            layer = _unwrap(self.projection)
            state.update({PROJECTION_PREFIX + n: p for n, p in layer.named_parameters()})
        return state

    def load_trainable_state(self, tensors: dict[str, torch.Tensor]) -> None:
        own = self.trainable_state()
        if set(own) != set(tensors):
            missing = sorted(set(own) ^ set(tensors))[:3]
            raise ConfigError(
                f"checkpoint does not fit this student (differs in {', '.join(missing)}); resume with the same config"
            )
        with torch.no_grad():
            for name, param in own.items():
                param.copy_(tensors[name].to(param.device, param.dtype))

    def projection_tensors(self) -> dict[str, torch.Tensor]:
        if self.projection is None:
            return {}
        return {n: p.detach().cpu().contiguous() for n, p in _unwrap(self.projection).named_parameters()}


def _unwrap(model: Any) -> Any:
    return getattr(model, "module", model)


def parameter_groups(student: Student, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases and LayerNorm weights (the usual BERT recipe)."""
    decay: list[torch.Tensor] = []
    no_decay: list[torch.Tensor] = []
    for name, param in student.trainable_state().items():
        (no_decay if param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float) -> Any:
    """Linear warm-up over ``ceil(warmup_ratio * total)`` steps, then linear decay to 0."""
    warmup = min(total_steps, math.ceil(warmup_ratio * total_steps))

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        remaining = total_steps - step
        return max(0.0, remaining / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
