"""Paired randomization (permutation) tests between two systems on the same queries.

Under the null hypothesis the two systems are exchangeable on every query, so swapping their
outputs on a random subset of queries should not change the difference of the metric. The
two-sided p-value is ``(1 + #{|d_perm| >= |d_obs|}) / (1 + R)`` (Smucker, Allan, Carterette 2007;
the +1 keeps it a valid p-value). Identical systems give ``p = 1``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from clir_calib.errors import ConfigError, DataError

#: differences smaller than this count as ties with the observed one (float noise)
TOLERANCE = 1e-12


def _check_rounds(n_permutations: int) -> None:
    if n_permutations < 1:
        raise ConfigError(f"the number of permutations must be at least 1, got {n_permutations}")


def paired_randomization_test(
    a: np.ndarray, b: np.ndarray, n_permutations: int = 10000, seed: int = 0
) -> float:
    """Two-sided p-value for the difference of means of per-query values ``a`` and ``b``."""
    _check_rounds(n_permutations)
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise DataError(f"paired test needs two equal-length, non-empty vectors; got {x.shape} and {y.shape}")
    diff = x - y
    observed = abs(diff.mean())
    rng = np.random.default_rng(seed)
    hits = 0
    chunk = max(1, min(n_permutations, 2_000_000 // max(1, diff.size)))
    done = 0
    while done < n_permutations:
        rounds = min(chunk, n_permutations - done)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(rounds, diff.size))
        permuted = np.abs((signs * diff).mean(axis=1))
        hits += int((permuted >= observed - TOLERANCE).sum())
        done += rounds
    return (1 + hits) / (1 + n_permutations)


def paired_randomization_statistic(
    difference: Callable[[np.ndarray], dict[str, float]],
    n_queries: int,
    n_permutations: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Two-sided p-values for differences of statistics that are not means (e.g. ECE).

    ``difference(swap)`` gets a boolean mask over queries (True: exchange the two systems' outputs
    on that query) and returns ``statistic(A') - statistic(B')`` by name.
    """
    _check_rounds(n_permutations)
    observed = difference(np.zeros(n_queries, dtype=bool))
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(observed, 0)
    for _ in range(n_permutations):
        permuted = difference(rng.random(n_queries) < 0.5)
        for name, value in permuted.items():
            if abs(value) >= abs(observed[name]) - TOLERANCE:
                hits[name] += 1
    return {name: (1 + count) / (1 + n_permutations) for name, count in hits.items()}
