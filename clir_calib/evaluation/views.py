"""Two ways to read raw similarity scores as probabilities, and the pairs each one is judged on.

- **listwise**: a softmax over each query's retrieved candidates at temperature ``T``; the
  confidence is the probability given to the top-1 document and the event is "the top-1 document
  is relevant" (one pair per query);
- **pointwise**: ``P(relevant | score) = sigmoid(scale * score + bias)`` for each of the top
  ``depth`` (query, document) pairs; the event is "this document is relevant".

Parameters are given (config) or come from a fitted calibrator (``clir-calib calibrate``), whose
probabilities then replace both formulas. Each view is kept as ``[queries, pairs per query]``
matrices so that the bootstrap can resample whole queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, log_softmax

from clir_calib.errors import ConfigError, NumericalError
from clir_calib.metrics.calibration import CalibrationReport, calibration_report
from clir_calib.retrieval.scored import ScoredRun

VIEWS: tuple[str, ...] = ("listwise", "pointwise")


@dataclass
class ViewPairs:
    """Confidences and 0/1 outcomes, ``[queries, pairs per query]``."""

    name: str
    confidences: np.ndarray  # float64 [Q, m]
    correct: np.ndarray  # int64 [Q, m]
    description: str

    def report(self, bins: int) -> CalibrationReport:
        return calibration_report(self.confidences.reshape(-1), self.correct.reshape(-1), bins=bins)


def listwise_probabilities(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of ``scores / temperature`` over each row (a query's candidates)."""
    if not temperature > 0 or not np.isfinite(temperature):
        raise ConfigError(f"evaluate.temperature must be a positive number, got {temperature!r}")
    return np.exp(log_softmax(np.asarray(scores, dtype=np.float64) / temperature, axis=1))


def pointwise_probabilities(scores: np.ndarray, scale: float = 1.0, bias: float = 0.0) -> np.ndarray:
    """``sigmoid(scale * score + bias)`` elementwise."""
    if not (np.isfinite(scale) and np.isfinite(bias)):
        raise ConfigError("evaluate.sigmoid_scale and evaluate.sigmoid_bias must be finite numbers")
    return expit(scale * np.asarray(scores, dtype=np.float64) + bias)


def _depth(run: ScoredRun, depth: int) -> int:
    if depth < 1:
        raise ConfigError(f"evaluate.pointwise_depth must be at least 1, got {depth}")
    return min(depth, run.depth)


def raw_views(
    run: ScoredRun, temperature: float = 1.0, scale: float = 1.0, bias: float = 0.0, depth: int = 10
) -> dict[str, ViewPairs]:
    """Both views of the raw scores with given parameters."""
    labels = run.labels.astype(np.int64)
    listwise = listwise_probabilities(run.scores, temperature)
    d = _depth(run, depth)
    pointwise = pointwise_probabilities(run.scores[:, :d], scale, bias)
    return {
        "listwise": ViewPairs(
            "listwise", listwise[:, :1], labels[:, :1],
            f"softmax over the top-{run.depth} candidates at T={temperature:g}; top-1 confidence vs top-1 relevant",
        ),
        "pointwise": ViewPairs(
            "pointwise", pointwise, labels[:, :d],
            f"sigmoid({scale:g} * score + {bias:g}) for the top-{d} pairs vs relevant",
        ),
    }


def calibrated_view(run: ScoredRun, calibrator: Any, depth: int = 10) -> ViewPairs:
    """The view a fitted calibrator models (its ``model_view``), on its probabilities.

    A listwise calibrator (probabilities summing to one per query) is judged on top-1 confidence
    against top-1 correctness, a pointwise one on the top-``depth`` pairs.
    """
    scores, _, groups = run.flat()
    probs = np.asarray(calibrator.predict_proba(scores.astype(np.float64), groups), dtype=np.float64)
    if probs.shape != scores.shape:
        raise NumericalError(f"calibrator returned {probs.shape} probabilities for {scores.shape} scores")
    if not np.isfinite(probs).all():
        raise NumericalError("the calibrator produced NaN or inf probabilities; refit it on valid scores")
    probs = probs.reshape(run.scores.shape)
    labels = run.labels.astype(np.int64)
    view = str(getattr(calibrator, "model_view", getattr(calibrator, "view", "")))
    kind = getattr(calibrator, "name", "") or type(calibrator).__name__
    if view == "listwise":
        return ViewPairs("calibrated", probs[:, :1], labels[:, :1], f"{kind} calibrator (listwise); top-1 confidence vs top-1 relevant")
    if view == "pointwise":
        d = _depth(run, depth)
        return ViewPairs("calibrated", probs[:, :d], labels[:, :d], f"{kind} calibrator (pointwise); top-{d} pairs vs relevant")
    raise ConfigError(f"calibrator {kind!r} declares view {view!r}; expected listwise or pointwise")
