"""Running an encoder in two parts: the frozen lower layers once per sentence, the top K layers every step.

When only the top K transformer layers of a student train, everything below them is a fixed function of
the text, so its output can be computed once and cached (:mod:`clir_calib.distill.lower_cache`). Both parts
run through the model's own ``forward``, with the layer stack cut to a slice (and, for the top part, the
embeddings replaced by a pass-through of the cached states), so attention masks and whatever else the model
does around its layers stay the model's own in every transformers version that keeps the BERT layout
(``embeddings`` + ``encoder.layer``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from clir_calib.errors import ConfigError


class _PassThrough(nn.Module):
    """Stands in for the embeddings: the hidden states given as ``inputs_embeds`` go straight to the layers."""

    def forward(self, input_ids: Any = None, inputs_embeds: torch.Tensor | None = None, **_: Any) -> torch.Tensor:
        if inputs_embeds is None:
            raise ValueError("the top layers take cached hidden states as inputs_embeds")
        return inputs_embeds


def layer_stack(model: Any) -> nn.ModuleList:
    """The model's transformer layers (BERT layout), or a one-line error naming the fix."""
    inner = getattr(model, "module", model)
    stack = getattr(getattr(inner, "encoder", None), "layer", None)
    if not isinstance(stack, nn.ModuleList) or not hasattr(inner, "embeddings"):
        raise ConfigError(
            f"{type(inner).__name__} is not a BERT-style encoder (embeddings + encoder.layer), so its lower layers "
            "cannot be cached; set distill.train_top_layers to null"
        )
    return stack


def check_top_layers(model: Any, count: int) -> int:
    """The number of frozen layers below the top ``count`` (0 when every layer trains above the embeddings)."""
    layers = len(layer_stack(model))
    if not 1 <= count <= layers:
        raise ConfigError(f"distill.train_top_layers is {count} but the student has {layers} layers; "
                          f"choose 1 to {layers}, or null to train every layer")
    return layers - count


@contextmanager
def _cut(model: Any, layers: nn.ModuleList, embeddings: nn.Module | None = None) -> Iterator[None]:
    inner = getattr(model, "module", model)
    saved_layers, saved_embeddings = inner.encoder.layer, inner.embeddings
    inner.encoder.layer = layers
    if embeddings is not None:
        inner.embeddings = embeddings
    try:
        yield
    finally:
        inner.encoder.layer = saved_layers
        inner.embeddings = saved_embeddings


def lower_states(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, below: int) -> torch.Tensor:
    """The hidden states entering layer ``below`` (the embeddings' output when ``below`` is 0)."""
    stack = layer_stack(model)
    with _cut(model, stack[:below]):
        return model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def top_states(model: Any, hidden: torch.Tensor, attention_mask: torch.Tensor, count: int) -> torch.Tensor:
    """The model's last hidden states from ``hidden``, the states entering its top ``count`` layers.

    ``model`` may be a distributed wrapper: it is called as is (so gradient synchronisation stays its own),
    and the cut is made on the module inside.
    """
    stack = layer_stack(model)
    with _cut(model, stack[len(stack) - count:], _PassThrough()):
        return model(inputs_embeds=hidden, attention_mask=attention_mask).last_hidden_state


def freeze_below_top(model: Any, count: int) -> None:
    """Every parameter frozen except those of the top ``count`` layers."""
    stack = layer_stack(model)
    getattr(model, "module", model).requires_grad_(False)
    for layer in stack[len(stack) - count:]:
        layer.requires_grad_(True)
