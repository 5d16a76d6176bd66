"""``atc``: Average Thresholded Confidence (Garg et al., ICLR 2022) for the listwise view.

A listwise calibrator's confidence in a query is its top-1 probability, and its listwise calibration
error is about top-1 accuracy. On a target language without labels the accuracy is unknown; ATC
estimates it:

1. on the seen language, with the fitted calibrator, find the confidence threshold ``t`` whose
   exceedance rate equals the top-1 accuracy there: ``share(conf > t) = accuracy``;
2. on the target, estimate top-1 accuracy as ``share(conf > t)`` of its queries;
3. rescale the target's scores by the factor ``k`` at which the calibrator's mean top-1 confidence on
   them equals that estimate (for a softmax calibrator at temperature ``T`` this is the temperature ``T / k``).

Only the target's scores are read (``TargetScores``); the estimate and ``k`` are stored with the adapter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import brentq

from clir_calib.adapters.base import SourceScores, TargetScores, TransferAdapter
from clir_calib.errors import ConfigError
from clir_calib.params import Param


def top1_confidence(calibrator: Any, scores: np.ndarray) -> np.ndarray:
    """The calibrator's probability of each query's top-scored candidate (``scores``: ``[queries, candidates]``)."""
    q, k = scores.shape
    groups = np.repeat(np.arange(q), k)
    probs = np.asarray(calibrator.predict_proba(scores.reshape(-1), groups), dtype=np.float64).reshape(q, k)
    return probs[np.arange(q), np.argmax(scores, axis=1)]


def exceedance_threshold(confidence: np.ndarray, rate: float) -> float:
    """A threshold ``t`` with ``share(confidence > t)`` as close to ``rate`` as the values allow."""
    ordered = np.sort(confidence)[::-1]
    above = int(round(rate * len(ordered)))
    if above <= 0:
        return float(ordered[0])
    if above >= len(ordered):
        return float(np.nextafter(ordered[-1], -np.inf))
    return float((ordered[above - 1] + ordered[above]) / 2)


class ATCAdapter(TransferAdapter):
    """Estimate the target's top-1 accuracy by a thresholded confidence, then match the mean confidence to it."""

    name = "atc"
    views = ("listwise",)
    description = ("Average Thresholded Confidence: the seen language's confidence threshold estimates the target's "
                   "top-1 accuracy; target scores are rescaled until the mean top-1 confidence equals it.")
    citation = ("Garg, S., Balakrishnan, S., Lipton, Z. C., Neyshabur, B. and Sedghi, H. (2022). Leveraging Unlabeled "
                "Data to Predict Out-of-Distribution Performance. ICLR 2022.")
    params = (
        Param("min_scale", 1e-3, "smallest score rescaling searched (a temperature 1000x the calibrator's)", above=0),
        Param("max_scale", 1e3, "largest score rescaling searched", above=0),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if not self.config["min_scale"] < 1.0 < self.config["max_scale"]:
            raise ConfigError("atc: need min_scale < 1 < max_scale (1 is the calibrator unchanged), got "
                              f"{self.config['min_scale']!r} and {self.config['max_scale']!r}")
        self.scale = 1.0
        self.facts: dict[str, float | bool] = {}

    def fit_to_calibrator(self, calibrator: Any, source: SourceScores, target: TargetScores) -> None:
        best = np.argmax(source.scores, axis=1)
        accuracy = float(np.mean(source.labels[np.arange(len(best)), best] > 0))
        threshold = exceedance_threshold(top1_confidence(calibrator, source.scores), accuracy)
        estimate = float(np.mean(top1_confidence(calibrator, target.scores) > threshold))

        def gap(log_scale: float) -> float:
            return float(np.mean(top1_confidence(calibrator, target.scores * np.exp(log_scale)))) - estimate

        low, high = np.log(self.config["min_scale"]), np.log(self.config["max_scale"])
        gap_low, gap_high = gap(low), gap(high)
        if gap_low >= 0 or gap_high <= 0:  # the estimate lies outside what rescaling can reach: the nearer end
            log_scale, at_bound = (low if gap_low >= 0 else high), True
        else:
            log_scale, at_bound = float(brentq(gap, low, high, xtol=1e-10)), False
        self.scale = float(np.exp(log_scale))
        self.facts = {"source_accuracy": accuracy, "threshold": threshold, "estimated_accuracy": estimate,
                      "at_bound": at_bound}

    def target_transform(self, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        return scores * self.scale

    def state(self) -> dict[str, Any]:
        return {"scale": self.scale, **self.facts}

    def set_state(self, state: dict[str, Any]) -> None:
        self.scale = float(state["scale"])
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError("scale must be a positive number")
        self.facts = {k: v for k, v in state.items() if k != "scale"}
