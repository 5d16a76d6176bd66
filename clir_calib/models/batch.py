"""An encoder's output for a batch (what distillation losses compare; re-exported by ``losses.base``) and padding."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class EncodedBatch:
    """An encoder's output for a padded batch of texts.

    ``token_states`` is ``[B, L, d]``, ``attention_mask`` is ``[B, L]`` (1 for real tokens, 0 for
    padding), ``pooled`` is the sentence embedding ``[B, d]`` as used for retrieval, and
    ``special_tokens_mask`` (optional) marks ``<s>``/``</s>``/``[CLS]``/``[SEP]`` positions with 1.
    ``prefix_tokens_mask`` (optional) marks the tokens of the role's text prefix (E5's ``passage: ``) with 1.
    ``query_pooled`` (teacher batches only, for losses that set ``needs_teacher_queries``) holds the
    teacher's pooled encodings of the same English texts *as queries* ``[B, d]``.
    """

    token_states: torch.Tensor
    attention_mask: torch.Tensor
    pooled: torch.Tensor
    special_tokens_mask: torch.Tensor | None = None
    query_pooled: torch.Tensor | None = None
    prefix_tokens_mask: torch.Tensor | None = None


def pad_token_ids(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists into ``input_ids`` and ``attention_mask`` tensors."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]
    input_ids = np.full(mask.shape, pad_id, dtype=np.int64)
    input_ids[mask] = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum()))
    return torch.from_numpy(input_ids), torch.from_numpy(mask.astype(np.int64))


def prefix_tokens(offsets: torch.Tensor, attention_mask: torch.Tensor, prefix_chars: int) -> torch.Tensor:
    """1 for the tokens of a text prefix ``prefix_chars`` long: real tokens whose characters all lie inside it
    (``offsets`` is a fast tokenizer's ``offset_mapping``; special tokens and padding span no characters)."""
    inside = (offsets[..., 1] <= prefix_chars) & (offsets[..., 1] > offsets[..., 0])
    return (inside & (attention_mask != 0)).long()
