"""``quantile``: move the target's scores onto the seen language's score distribution (1-D OT).

The optimal transport map between two distributions on the line is the monotone rearrangement
``F_source^-1 o F_target`` (Peyré and Cuturi 2019, section 2.6): each target score goes to the
source score of the same quantile. The seen calibrator then reads target scores that are
distributed like the scores it was fitted on. Fitted on the candidates the calibrator is judged
on (every retrieved candidate for listwise calibrators, the top ``depth`` for pointwise ones);
piecewise linear between ``levels`` quantiles, constant beyond the ends.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clir_calib.adapters.base import SourceScores, TargetScores, TransferAdapter, view_columns
from clir_calib.params import Param


class QuantileAdapter(TransferAdapter):
    """Quantile matching of target scores to the seen language's scores: OT on scores instead of tokens."""

    name = "quantile"
    description = "Map target scores onto the seen language's score distribution by 1-D optimal transport."
    citation = "Peyré and Cuturi, Computational Optimal Transport, Foundations and Trends in ML 2019, sec. 2.6."
    params = (Param("levels", 1001, "quantile levels stored for the map", type=int, at_least=2, at_most=1_000_000),)

    def _fit(self, source: SourceScores, target: TargetScores) -> None:
        levels = np.linspace(0.0, 1.0, int(self.config["levels"]))
        source_values = view_columns(source.scores, self.view, self.depth).reshape(-1)
        target_values = view_columns(target.scores, self.view, self.depth).reshape(-1)
        self.target_q = np.quantile(target_values.astype(np.float64), levels)
        self.source_q = np.quantile(source_values.astype(np.float64), levels)

    def target_transform(self, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        xp, index = np.unique(self.target_q, return_index=True)  # np.interp needs increasing points
        return np.interp(scores, xp, self.source_q[index])

    def state(self) -> dict[str, Any]:
        return {"target_quantiles": self.target_q.tolist(), "source_quantiles": self.source_q.tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.target_q = np.asarray(state["target_quantiles"], dtype=np.float64)
        self.source_q = np.asarray(state["source_quantiles"], dtype=np.float64)
        if self.target_q.shape != self.source_q.shape or not np.isfinite(self.target_q).all():
            raise ValueError("quantile tables differ in length or are not finite")
