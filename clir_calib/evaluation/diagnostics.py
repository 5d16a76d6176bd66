"""What a system does to its scores: the distributions behind a change in calibration.

A rise in listwise ECE can come from a sharper top-1 margin, from all cosines moving together, or from
other ranks; a reliability diagram shows only that calibration moved. Per evaluated entry this gives the
quantiles of the top-1 score, of the top-1 minus top-2 margin, and of the relevant and non-relevant
candidates' scores (every retrieved candidate), and the raw listwise view's mean top-1 confidence next to
its top-1 accuracy. ``evaluate`` writes it into ``metrics.json`` under ``score_diagnostics``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_softmax

#: quantile levels stored per distribution: 0.05, 0.10, ..., 0.95
LEVELS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))


def distribution(values: np.ndarray) -> dict[str, Any] | None:
    """Count, mean, sd and the :data:`LEVELS` quantiles of ``values``; None when there are none."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        return None
    return {"n": int(values.size), "mean": float(values.mean()), "sd": float(values.std()),
            "quantiles": [float(q) for q in np.quantile(values, LEVELS)]}


def score_diagnostics(scores: np.ndarray, labels: np.ndarray, temperature: float | None) -> dict[str, Any]:
    """The score diagnostics of retrieved lists ``scores``/``labels`` ``[queries, candidates]``; the listwise part
    needs the raw listwise temperature (None: scores with no stated softmax, e.g. an external run's, have none)."""
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(labels) > 0
    ranked = -np.sort(-scores, axis=1)
    best = np.argmax(scores, axis=1)
    rows = np.arange(len(scores))
    accuracy = relevant[rows, best].astype(np.float64)
    listwise = None
    if temperature is not None:
        confidence = np.exp(log_softmax(scores / temperature, axis=1))[rows, best]
        listwise = {"temperature": float(temperature), "mean_top1_confidence": float(confidence.mean()),
                    "top1_accuracy": float(accuracy.mean()),
                    "overconfidence": float(confidence.mean() - accuracy.mean())}
    return {
        "levels": list(LEVELS),
        "candidates": int(scores.shape[1]),
        "top1": distribution(ranked[:, 0]),
        "margin": distribution(ranked[:, 0] - ranked[:, 1]) if scores.shape[1] > 1 else None,
        "relevant": distribution(scores[relevant]),
        "non_relevant": distribution(scores[~relevant]),
        "top1_accuracy": float(accuracy.mean()),
        "listwise": listwise,
    }
