"""An encoder's output for a batch: what distillation losses compare (also re-exported by ``losses.base``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class EncodedBatch:
    """An encoder's output for a padded batch of texts.

    ``token_states`` is ``[B, L, d]``, ``attention_mask`` is ``[B, L]`` (1 for real tokens, 0 for
    padding), ``pooled`` is the sentence embedding ``[B, d]`` as used for retrieval, and
    ``special_tokens_mask`` (optional) marks ``<s>``/``</s>``/``[CLS]``/``[SEP]`` positions with 1.
    """

    token_states: torch.Tensor
    attention_mask: torch.Tensor
    pooled: torch.Tensor
    special_tokens_mask: torch.Tensor | None = None
