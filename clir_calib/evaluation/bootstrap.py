"""Bootstrap confidence intervals over queries (percentile method).

Queries are the unit of resampling: a resample draws ``Q`` queries with replacement and every
metric is recomputed on it, so intervals reflect which queries happened to be in the test set.
All metrics of one (task, language, split) share the same resamples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from clir_calib.errors import ConfigError, DataError


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval (``low``/``high`` are None without resamples)."""

    value: float
    low: float | None
    high: float | None
    #: the statistic on each resample (kept for seed-level tests; not part of the JSON form)
    samples: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON form; an undefined value (NaN) is written as null."""
        return {"value": self.value if np.isfinite(self.value) else None, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interval:
        value = data["value"]
        return cls(float("nan") if value is None else float(value), data.get("low"), data.get("high"))


def resample_indices(n_queries: int, n_resamples: int, seed: int) -> np.ndarray:
    """``[n_resamples, n_queries]`` query indices drawn with replacement (read-only: one entry's views and metrics
    all bootstrap the same draws, so they are drawn once)."""
    if n_queries < 1:
        raise DataError("cannot bootstrap over zero queries")
    if n_resamples < 0:
        raise ConfigError(f"evaluate.bootstrap must be 0 or more, got {n_resamples}")
    return _drawn(n_queries, n_resamples, seed)


@lru_cache(maxsize=4)
def _drawn(n_queries: int, n_resamples: int, seed: int) -> np.ndarray:
    indices = np.random.default_rng(seed).integers(0, n_queries, size=(n_resamples, n_queries))
    indices.setflags(write=False)
    return indices


@lru_cache(maxsize=4)
def resample_counts(n_queries: int, n_resamples: int, seed: int) -> np.ndarray:
    """How often each query is drawn in each resample of :func:`resample_indices`, ``[n_resamples, n_queries]``
    (read-only, computed once per draw)."""
    from clir_calib.metrics.weighted import resample_weights

    counts = resample_weights(resample_indices(n_queries, n_resamples, seed), n_queries)
    counts.setflags(write=False)
    return counts


def percentile_interval(value: float, samples: np.ndarray, level: float) -> Interval:
    """Percentile interval; resamples where the statistic is undefined (NaN, e.g. AUROC of one class) are
    left out, and an undefined point estimate has no interval."""
    every = samples
    samples = samples[np.isfinite(samples)] if samples.size else samples
    if samples.size == 0 or not np.isfinite(value):
        return Interval(value, None, None, every if every.size else None)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return Interval(value, float(low), float(high), every)


def bootstrap_means(
    per_query: dict[str, np.ndarray], n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, Interval]:
    """Interval of the mean over queries for every per-query metric."""
    if not 0.0 < level < 1.0:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    lengths = {len(v) for v in per_query.values()}
    if len(lengths) != 1:
        raise DataError(f"per-query metrics differ in length: {sorted(lengths)}")
    (n_queries,) = lengths
    indices = resample_indices(n_queries, n_resamples, seed)
    result = {}
    for name, values in per_query.items():
        values = np.asarray(values, dtype=np.float64)
        samples = values[indices].mean(axis=1) if n_resamples else np.empty(0)
        result[name] = percentile_interval(float(values.mean()), samples, level)
    return result


def bootstrap_statistic(
    statistic: Callable[[np.ndarray], dict[str, float]],
    n_queries: int,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Interval of any statistics computed from a set of query indices (e.g. ECE of a view).

    ``statistic(rows)`` gets query indices (repeats allowed) and returns named numbers.
    """
    if not 0.0 < level < 1.0:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    point = statistic(np.arange(n_queries))
    indices = resample_indices(n_queries, n_resamples, seed)
    samples: dict[str, list[float]] = {name: [] for name in point}
    for rows in indices:
        for name, value in statistic(rows).items():
            samples[name].append(value)
    return {name: percentile_interval(value, np.asarray(samples[name]), level) for name, value in point.items()}


def bootstrap_pairs(
    confidences: np.ndarray, correct: np.ndarray, bins: int, n_resamples: int = 1000, seed: int = 0,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Every calibration estimator of :mod:`clir_calib.metrics.weighted` with its bootstrap interval.

    ``confidences`` and ``correct`` are ``[queries, pairs per query]``; whole queries are resampled (the same
    draws as :func:`bootstrap_means` with the same seed), all resamples in one vectorised pass.
    """
    from clir_calib.metrics.weighted import Pairs, weighted_metrics

    if not 0.0 < level < 1.0:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    n_queries, per_query = confidences.shape
    pairs = Pairs.per_query(confidences, correct)
    point = weighted_metrics(pairs, np.ones((1, n_queries)), bins)
    samples: dict[str, np.ndarray] = {}
    if n_resamples:
        samples = weighted_metrics(pairs, resample_counts(n_queries, n_resamples, seed), bins)
    return {name: percentile_interval(float(value[0]), samples.get(name, np.empty(0)), level) for name, value in point.items()}
