"""The trainable side: the student encoder, an optional width projection, frozen word embeddings.

Word embeddings are frozen by default: they are most of an XLM-R-vocabulary model's parameters
(96M of e5-small's 118M), so freezing them makes AdamW on CPU much cheaper and keeps the
vocabulary that distillation never sees (other languages) where the base model had it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from clir_calib.distill.lower_cache import LowerStateCache
from clir_calib.errors import ConfigError
from clir_calib.models.batch import EncodedBatch
from clir_calib.models.encoder import Encoder
from clir_calib.models.layers import check_top_layers, freeze_below_top, layer_stack, top_states
from clir_calib.models.projection import PROJECTION_FILE

__all__ = ["PROJECTION_FILE", "Student", "adamw", "parameter_groups", "warmup_linear_schedule"]
PROJECTION_PREFIX = "projection."


class Student(nn.Module):
    """The student encoder plus, when widths differ and it is allowed, a learned linear map."""

    def __init__(self, encoder: Encoder, teacher_width: int, projection: bool, freeze_embeddings: bool,
                 top_layers: int | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        #: With ``top_layers`` K, only the top K transformer layers train, from cached lower states
        #: (:meth:`use_lower_cache`); None: the whole encoder runs every step.
        self.top_layers = top_layers
        self.below = check_top_layers(encoder.model, top_layers) if top_layers is not None else 0
        self.lower_cache: LowerStateCache | None = None
        width = encoder.hidden_size
        if width != teacher_width and not projection:
            raise ConfigError(
                f"teacher width {teacher_width} != student width {width}; use models of the same width "
                "or set distill.projection=true to learn a linear map"
            )
        self.projection: Any = nn.Linear(width, teacher_width) if width != teacher_width else None
        if freeze_embeddings:
            encoder.model.get_input_embeddings().weight.requires_grad_(False)
        if top_layers is not None:
            freeze_below_top(encoder.model, top_layers)

    def use_lower_cache(self, role: str, autocast: Any = None) -> LowerStateCache:
        """Start caching the frozen layers' outputs (``top_layers`` set); fill it with ``ensure``."""
        assert self.top_layers is not None
        self.lower_cache = LowerStateCache(self.encoder, self.below, role, autocast)
        return self.lower_cache

    def encode_batch(self, texts: Sequence[str], role: str) -> EncodedBatch:
        """Token states and pooled vector with gradients, in the teacher's space."""
        if self.lower_cache is not None:
            assert self.top_layers is not None and role == self.lower_cache.role
            hidden, mask, special, prefix = self.lower_cache.batch(texts)
            states = top_states(self.encoder.model, hidden, mask, self.top_layers)
            batch = EncodedBatch(states, mask, self.encoder.pool(states, mask), special, prefix_tokens_mask=prefix)
        else:
            batch = self.encoder.encode_batch(texts, role)
        if self.projection is None:
            return batch
        states = self.projection(batch.token_states)
        pooled = self.encoder.pool(states, batch.attention_mask)
        return EncodedBatch(states, batch.attention_mask, pooled, batch.special_tokens_mask,
                            prefix_tokens_mask=batch.prefix_tokens_mask)

    def encode(self, texts: Sequence[str], role: str, batch_size: int) -> torch.Tensor:
        """Pooled vectors ``[N, d]`` (float32, CPU, before any projection) for validation: from the cached lower
        states when there are some (equal to :meth:`Encoder.encode` up to float rounding), else the full model."""
        if self.lower_cache is None:
            return self.encoder.encode(texts, role=role, batch_size=batch_size)
        assert self.top_layers is not None
        self.lower_cache.ensure(texts, batch_size)
        parts = []
        with self.encoder.eval_mode(), torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                hidden, mask, _, _ = self.lower_cache.batch(texts[start:start + batch_size])
                states = top_states(self.encoder.model, hidden, mask, self.top_layers)
                parts.append(self.encoder.pool(self.encoder._project(states), mask).cpu())
        return torch.cat(parts) if parts else torch.zeros(0, self.encoder.output_size)

    def encode_untrained(self, texts: Sequence[str], role: str, batch_size: int, cache: Path | None,
                         context: dict[str, Any]) -> torch.Tensor:
        """:meth:`encode` before the first step, kept in the embedding cache ``cache`` (None: no cache). Every method
        and seed of a study starts from the same model, so their step-0 validations are one encoding; the key is the
        base model's content hash and settings, the texts, ``top_layers`` and ``context`` (precision, device)."""
        if cache is None or self.encoder.folder is None:
            return self.encode(texts, role, batch_size)
        from clir_calib.retrieval.index import encode_cached

        entry = encode_cached(_Untrained(self), [str(i) for i in range(len(texts))], list(texts), role, cache,
                              "distill-start", "val", str(context.get("lang", "")),
                              extra={"top_layers": self.top_layers, **context}, batch_size=batch_size)
        return torch.from_numpy(entry.embeddings)

    def trained_layers(self) -> str:
        """Which layers train, for the result, the card and the report."""
        if self.top_layers is None:
            return "all layers"
        layers = len(layer_stack(self.encoder.model))
        return f"top {self.top_layers} of {layers} layers (the {self.below} below cached, without dropout)"

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


def adamw(groups: list[dict[str, Any]], lr: float, weight_decay: float = 0.01) -> torch.optim.Optimizer:
    """AdamW, fused into one kernel on CPU and CUDA (as the Hugging Face Trainer's default ``adamw_torch_fused``).

    The per-tensor loop PyTorch uses on CPU otherwise took about 200 ms a step for e5-small's 21.5M trainable
    parameters on the 2-core CPU, the fused kernel about 55 ms: most of the gap to sentence-transformers'
    trainer in ``bench/distill_vs_st.py``. Other devices get PyTorch's default implementation.
    """
    devices = {p.device.type for group in groups for p in group["params"]}
    fused = bool(devices) and devices <= {"cpu", "cuda"}
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=True if fused else None)


def warmup_linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float) -> Any:
    """Linear warm-up over ``ceil(warmup_ratio * total)`` steps, then linear decay to 0."""
    warmup = min(total_steps, math.ceil(warmup_ratio * total_steps))

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        remaining = total_steps - step
        return max(0.0, remaining / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class _Untrained:
    """A student before its first step as the embedding cache sees an encoder: the base model's name, folder and
    settings (its fingerprint), and the student's own :meth:`Student.encode` (cached lower layers included)."""

    def __init__(self, student: Student) -> None:
        self.student = student
        self.name, self.folder, self.settings = student.encoder.name, student.encoder.folder, student.encoder.settings

    def encode(self, texts: Sequence[str], role: str, batch_size: int | None = None,
               progress: bool = False) -> torch.Tensor:
        return self.student.encode(texts, role, batch_size or self.settings.batch_size)
