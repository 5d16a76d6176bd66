"""``mean-shift``: move a language's document embeddings by the difference of the languages' means.

``x -> x - mean_xx + mean_en``: the language-specific offset of a multilingual encoder's space is
removed without labels or bitext (language bias as a mean offset: the "Shift" line of work, arXiv
2606.18801; the mean is what LEACE-style erasure removes first, Belrose et al. 2023).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clir_calib.maps.base import EmbeddingMap


def mean_shift(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The offset ``mean(target) - mean(source)`` (rows are samples; their order is irrelevant)."""
    return np.asarray(target.mean(axis=0) - source.mean(axis=0))


class MeanShiftMap(EmbeddingMap):
    """Documents moved by the English mean minus the language's mean (fitted on unaligned train text)."""

    name = "mean-shift"
    description = ("Training-free: document embeddings moved by mean(English) - mean(language), fitted on unaligned "
                   "monolingual train captions.")
    citation = ("Language-bias removal by mean subtraction: Shift, arXiv 2606.18801; Belrose, N. et al. (2023), LEACE: "
                "Perfect linear concept erasure in closed form, NeurIPS 2023.")

    def fit_map(self, source: np.ndarray, target: np.ndarray) -> None:
        self.offset = mean_shift(source, target)

    def apply_map(self, embeddings: np.ndarray) -> np.ndarray:
        return embeddings + self.offset

    def describe_fit(self) -> dict[str, Any]:
        return {"offset_norm": round(float(np.linalg.norm(self.offset)), 6)}
