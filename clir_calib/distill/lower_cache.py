"""The student's frozen lower layers, run once per sentence (``distill.train_top_layers``).

With only the top K layers training, the states entering them are a fixed function of the text. They are
computed once, without dropout (the frozen layers are a fixed function; a full forward pass in training mode
would drop units there too), kept in memory per sentence (float32: width x tokens x 4 bytes; 4,000 e5-small
captions are about 150 MB), and padded into batches on request. Validation uses them as well, so a val check
runs only the top K layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from clir_calib.errors import DataError
from clir_calib.models.layers import lower_states


class LowerStateCache:
    """Per sentence: the states entering layer ``below`` and the token masks, for one encoder role."""

    def __init__(self, encoder: Any, below: int, role: str,
                 autocast: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self.encoder, self.below, self.role = encoder, below, role
        self._autocast = autocast
        self._rows: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def ensure(self, texts: Sequence[str], batch_size: int) -> None:
        """Run the lower layers over every text not cached yet (length-sorted batches, eval mode)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if not missing:
            return
        missing.sort(key=len, reverse=True)
        model = getattr(self.encoder.model, "module", self.encoder.model)
        autocast = self._autocast() if self._autocast else nullcontext()
        with self.encoder.eval_mode(), torch.inference_mode(), autocast:
            for start in range(0, len(missing), batch_size):
                chunk = missing[start:start + batch_size]
                batch = self.encoder.tokenize(chunk, self.role)
                special = batch["special_tokens_mask"] * batch["attention_mask"]
                prefix = batch["prefix_tokens_mask"]
                states = lower_states(model, batch["input_ids"], batch["attention_mask"], self.below).float()
                for row, text in enumerate(chunk):
                    real = batch["attention_mask"][row].bool()
                    self._rows[text] = (states[row][real].clone(), special[row][real].clone(), prefix[row][real].clone())

    def batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Right-padded ``states [B, L, d]``, ``attention_mask``, ``special_tokens_mask``, ``prefix_tokens_mask``."""
        try:
            rows = [self._rows[text] for text in texts]
        except KeyError:
            raise DataError("a sentence is missing from the lower-layer cache; call ensure() with every text first") \
                from None
        longest = max(row[0].shape[0] for row in rows)
        first = rows[0][0]
        states = first.new_zeros((len(rows), longest, first.shape[1]))
        masks = [torch.zeros((len(rows), longest), dtype=torch.long, device=first.device) for _ in range(3)]
        for i, (state, special, prefix) in enumerate(rows):
            n = state.shape[0]
            states[i, :n] = state
            masks[0][i, :n] = 1
            masks[1][i, :n] = special
            masks[2][i, :n] = prefix
        return states, masks[0], masks[1], masks[2]
