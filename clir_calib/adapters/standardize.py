"""``standardize``: per-query z-scores, on the seen language's typical scale, on both sides.

Each score becomes ``(s - mean_q) / sd_q`` over its query's retrieved list, then
``z * sd_seen + mean_seen``, where ``mean_seen``/``sd_seen`` are the seen language's average
per-query mean and standard deviation. The calibrator is fitted on the seen language's
standardised scores and reads the target's standardised scores, so it sees features whose
location and spread no longer depend on the language (score normalisation for metasearch:
Montague and Aslam, CIKM 2001).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clir_calib.adapters.base import SourceScores, TargetScores, TransferAdapter, per_query_stats
from clir_calib.params import Param


class StandardizeAdapter(TransferAdapter):
    """Per-query z-score normalisation learned on the seen language, applied to both languages."""

    name = "standardize"
    description = "Per-query z-scores mapped to the seen language's average per-query mean and spread."
    citation = "Montague and Aslam, Relevance Score Normalization for Metasearch, CIKM 2001."
    params = (Param("min_sd", 1e-6, "floor of a query's score spread (a flat list stays flat)", above=0),)

    def _fit(self, source: SourceScores, target: TargetScores) -> None:
        scores, groups = source.flat()
        mean, sd = per_query_stats(scores, groups)
        self.location, self.scale = float(mean.mean()), float(max(sd.mean(), self.config["min_sd"]))

    def _standardize(self, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        mean, sd = per_query_stats(scores, groups)
        return (scores - mean) / np.maximum(sd, self.config["min_sd"]) * self.scale + self.location

    def source_transform(self, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        return self._standardize(scores, groups)

    def target_transform(self, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        return self._standardize(scores, groups)

    def state(self) -> dict[str, Any]:
        return {"location": self.location, "scale": self.scale}

    def set_state(self, state: dict[str, Any]) -> None:
        self.location, self.scale = float(state["location"]), float(state["scale"])
        if not (np.isfinite(self.location) and np.isfinite(self.scale) and self.scale > 0):
            raise ValueError("location and scale must be finite, scale positive")
