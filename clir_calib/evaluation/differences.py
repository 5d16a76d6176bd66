"""Paired comparisons of two systems on the same queries: the difference, its interval and its test.

A comparison table says how large a difference is (``other - reference`` with a paired bootstrap interval:
the same resampled queries for both systems) and whether it is more than noise (a paired randomization test).
Both work on whole queries, for retrieval metrics (per-query values) and calibration metrics (each view's
pairs) alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clir_calib.evaluation.bootstrap import percentile_interval, resample_counts, resample_indices
from clir_calib.evaluation.significance import TOLERANCE, _check_rounds

#: the calibration metrics compared across systems
CALIBRATION_METRICS: tuple[str, ...] = ("ece_equal_width", "ece_equal_mass", "mce", "brier", "nll")
LEVEL = 0.95


@dataclass(frozen=True)
class Difference:
    """``other - reference`` and its paired bootstrap interval (None where there were no resamples)."""

    value: float
    low: float | None
    high: float | None


def _interval(values: np.ndarray) -> Difference:
    if values.shape[0] <= 1:
        return Difference(float(values[0]), None, None)
    interval = percentile_interval(float(values[0]), values[1:], LEVEL)
    return Difference(float(values[0]), interval.low, interval.high)


def mean_differences(other: dict[str, np.ndarray], reference: dict[str, np.ndarray], metrics: tuple[str, ...],
                     resamples: int, seed: int) -> dict[str, Difference]:
    """Per-query metrics: the difference of means, with the same bootstrap draws for both systems."""
    n_queries = len(next(iter(reference.values())))
    draws = np.vstack([np.arange(n_queries)[None, :], resample_indices(n_queries, resamples, seed)])
    return {m: _interval(np.asarray(other[m])[draws].mean(axis=1) - np.asarray(reference[m])[draws].mean(axis=1))
            for m in metrics if m in other and m in reference}


def calibration_differences(other: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray],
                            bins: int, resamples: int, seed: int) -> dict[str, Difference]:
    """Every calibration metric of ``other`` minus ``reference`` on paired query resamples (one pass each)."""
    from clir_calib.metrics.weighted import Pairs, weighted_metrics

    n_queries = reference[0].shape[0]
    weights = np.vstack([np.ones((1, n_queries)),
                         resample_counts(n_queries, resamples, seed)])
    mine = weighted_metrics(Pairs.per_query(*other), weights, bins, CALIBRATION_METRICS)
    theirs = weighted_metrics(Pairs.per_query(*reference), weights, bins, CALIBRATION_METRICS)
    return {m: _interval(mine[m] - theirs[m]) for m in CALIBRATION_METRICS}


def calibration_p_values(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], bins: int,
                         permutations: int, seed: int) -> dict[str, float]:
    """Paired randomization test of ``metric(a) - metric(b)`` for the calibration metrics, all permutations in
    one pass: the two systems' pairs form one weighted set (query ``q`` of a, query ``Q + q`` of b), and a
    permutation that swaps query ``q`` moves its weight from one side to the other. The same draws and p-values
    as :func:`~clir_calib.evaluation.significance.paired_randomization_statistic` over swapped copies."""
    from clir_calib.metrics.weighted import Pairs, weighted_metrics

    _check_rounds(permutations)
    (conf_a, hit_a), (conf_b, hit_b) = a, b
    n_queries, per_query = conf_a.shape
    query = np.repeat(np.arange(n_queries), per_query)
    pairs = Pairs(np.concatenate([conf_a.reshape(-1), conf_b.reshape(-1)]),
                  np.concatenate([hit_a.reshape(-1), hit_b.reshape(-1)]), queries=np.concatenate([query, query + n_queries]))
    rng = np.random.default_rng(seed)
    swap = np.vstack([np.zeros((1, n_queries), dtype=bool), rng.random((permutations, n_queries)) < 0.5])
    keep = (~swap).astype(np.float64)
    moved = swap.astype(np.float64)
    first = weighted_metrics(pairs, np.hstack([keep, moved]), bins, CALIBRATION_METRICS)
    second = weighted_metrics(pairs, np.hstack([moved, keep]), bins, CALIBRATION_METRICS)
    result = {}
    for name in CALIBRATION_METRICS:
        difference = first[name] - second[name]
        hits = int((np.abs(difference[1:]) >= abs(difference[0]) - TOLERANCE).sum())
        result[name] = (1 + hits) / (1 + permutations)
    return result
