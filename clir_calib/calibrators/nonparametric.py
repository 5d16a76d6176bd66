"""Non-parametric pointwise calibrators: isotonic regression and histogram binning."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from clir_calib.calibrators.base import Calibrator
from clir_calib.metrics.calibration import equal_mass_table
from clir_calib.params import Param


def pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The non-decreasing sequence closest to ``values`` in weighted squared error."""
    means: list[float] = []
    totals: list[float] = []
    lengths: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(value)
        totals.append(weight)
        lengths.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            weight_sum = totals[-2] + totals[-1]
            merged = (means[-2] * totals[-2] + means[-1] * totals[-1]) / weight_sum
            length = lengths[-2] + lengths[-1]
            del means[-1], totals[-1], lengths[-1]
            means[-1], totals[-1], lengths[-1] = merged, weight_sum, length
    return np.repeat(np.asarray(means), lengths)


class IsotonicCalibrator(Calibrator):
    """Isotonic regression of relevance on the score (Zadrozny & Elkan 2002).

    Tied scores are pooled first; the fitted step function is interpolated linearly between the
    fitted scores, and scores outside the fit range get the value at the nearest end (clipped).
    """

    name = "isotonic"
    view: ClassVar[str] = "pointwise"
    description = "Pointwise monotone (isotonic) regression, linear between fit points, clipped outside."
    citation = (
        "Zadrozny, B., Elkan, C. (2002). Transforming Classifier Scores into Accurate Multiclass "
        "Probability Estimates. KDD."
    )
    params = ()

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.thresholds = np.zeros(0)
        self.values = np.zeros(0)

    def _fit(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> None:
        unique, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=labels) / counts
        fitted = pool_adjacent_violators(means, counts.astype(np.float64))
        # keep only the ends of each constant run: interpolation between them is unchanged
        keep = np.ones(unique.size, dtype=bool)
        if unique.size > 2:
            same_left = fitted[1:-1] == fitted[:-2]
            same_right = fitted[1:-1] == fitted[2:]
            keep[1:-1] = ~(same_left & same_right)
        self.thresholds = unique[keep]
        self.values = fitted[keep]

    def _predict(self, scores: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        return np.interp(scores, self.thresholds, self.values)

    def state(self) -> dict[str, Any]:
        return {"thresholds": self.thresholds.tolist(), "values": self.values.tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        thresholds = np.asarray(state["thresholds"], dtype=np.float64)
        values = np.asarray(state["values"], dtype=np.float64)
        if thresholds.size == 0 or thresholds.shape != values.shape or np.any(np.diff(thresholds) <= 0):
            raise ValueError("thresholds must be increasing and as many as the values")
        self.thresholds, self.values = thresholds, values

    def fitted_problem(self) -> str | None:
        if np.any(self.values < 0) or np.any(self.values > 1) or np.any(np.diff(self.values) < 0):
            return "its values must be probabilities in [0, 1] that never fall as the score rises"
        return None


class HistogramCalibrator(Calibrator):
    """Histogram binning: the share of relevant pairs in the score's equal-mass bin.

    Bin edges are fitted on the fit set's scores (ties never split, so there may be fewer bins);
    edges lie half-way between neighbouring bins, and scores beyond the fit range fall in the
    first or last bin.
    """

    name = "histogram"
    view: ClassVar[str] = "pointwise"
    description = "Pointwise histogram binning with equal-mass bins fitted on the fit set."
    citation = (
        "Zadrozny, B., Elkan, C. (2001). Obtaining calibrated probability estimates from decision "
        "trees and naive Bayesian classifiers. ICML."
    )
    params = (Param("bins", 15, "number of equal-mass bins", type=int, at_least=1, at_most=10_000),)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.edges = np.zeros(0)
        self.probabilities = np.zeros(1)

    def _fit(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> None:
        table = equal_mass_table(scores, labels, int(self.config["bins"]))
        self.edges = np.asarray(table.upper[:-1], dtype=np.float64)
        self.probabilities = np.asarray(table.accuracy, dtype=np.float64)

    def _predict(self, scores: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        return self.probabilities[np.searchsorted(self.edges, scores, side="left")]

    def state(self) -> dict[str, Any]:
        return {"edges": self.edges.tolist(), "probabilities": self.probabilities.tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        edges = np.asarray(state["edges"], dtype=np.float64)
        probabilities = np.asarray(state["probabilities"], dtype=np.float64)
        if probabilities.size != edges.size + 1 or np.any(np.diff(edges) <= 0):
            raise ValueError("need increasing edges and one more probability than edges")
        self.edges, self.probabilities = edges, probabilities

    def fitted_problem(self) -> str | None:
        if np.any(self.probabilities < 0) or np.any(self.probabilities > 1):
            return "its bin probabilities must lie in [0, 1]"
        return None
