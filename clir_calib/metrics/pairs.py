"""(query, candidate) pairs of a ranked run as sparse per-query sums: what every weighted estimator reads.

A bootstrap resample is a weight per query; each estimator is a weighted sum over pairs, so all resamples
are evaluated at once as a matrix product instead of one loop per resample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

CHUNK_ELEMENTS = 4_000_000  # rows x pairs processed at once (memory bound)


@dataclass
class Pairs:
    """Flat confidences and 0/1 outcomes with the query of each pair (default: one pair per query)."""

    conf: np.ndarray  # float64 [N]
    hits: np.ndarray  # float64 [N]
    queries: np.ndarray | None = None  # int [N]: the query each pair belongs to (0..Q-1); None: one each

    def __post_init__(self) -> None:
        self.conf = np.asarray(self.conf, dtype=np.float64).reshape(-1)
        self.hits = np.asarray(self.hits, dtype=np.float64).reshape(-1)
        self.query: np.ndarray = (np.arange(self.conf.size) if self.queries is None
                                  else np.asarray(self.queries, dtype=np.int64).reshape(-1))
        self.n_queries = int(self.query.max()) + 1 if self.query.size else 0
        order = np.argsort(self.conf, kind="stable")
        ordered = self.conf[order]
        new = np.ones(ordered.size, dtype=bool)
        new[1:] = ordered[1:] != ordered[:-1]
        self.group = np.empty(self.conf.size, dtype=np.int64)
        self.group[order] = np.cumsum(new) - 1  # tie group of each pair, ascending confidence
        self.n_groups = int(new.sum())
        self.pairs_per_query = np.bincount(self.query, minlength=self.n_queries).astype(np.float64)
        self._cache: dict[Any, Any] = {}
        self._transposed: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def per_query(cls, confidences: np.ndarray, correct: np.ndarray) -> Pairs:
        """The pairs of a view stored as ``[queries, pairs per query]`` arrays (row ``q`` is query ``q``)."""
        n_queries, per_query = np.shape(confidences)
        return cls(np.reshape(confidences, -1), np.reshape(correct, -1),
                   queries=np.repeat(np.arange(n_queries), per_query))

    @property
    def size(self) -> int:
        return int(self.conf.size)

    def matrix(self, key: Any, columns: np.ndarray, values: np.ndarray, width: int,
               among: np.ndarray | None = None) -> sparse.csr_matrix:
        """The sparse ``[Q, width]`` sums of ``values`` by (query, column), cached under ``key``; ``columns`` and
        ``values`` are per pair (repeated blocks of all pairs), or per pair of the mask ``among``."""
        if key not in self._cache:
            query = self.query if among is None else self.query[among]
            rows = np.tile(query, len(columns) // max(1, query.size))
            self._cache[key] = sparse.csr_matrix((values, (rows, columns)), shape=(self.n_queries, width))
        return self._cache[key]

    def sums(self, weights: np.ndarray, matrix: sparse.csr_matrix) -> np.ndarray:
        """``weights [B, Q] @ matrix [Q, width]`` as a dense array (a transposed view of a C-ordered product)."""
        return np.asarray(matrix.T @ self.transposed(weights)).T

    def transposed(self, weights: np.ndarray) -> np.ndarray:
        """``weights.T`` in C order, kept for the last weights seen: every estimator of a chunk multiplies the same
        weights, and the sparse product would otherwise copy them each time."""
        last = self._transposed
        if last is not None and last[0] is weights:
            return last[1]
        copy = np.ascontiguousarray(weights.T)
        self._transposed = (weights, copy)  # one assignment: threads on other chunks see either entry whole
        return copy

    def group_sums(self, weights: np.ndarray, name: str = "ones") -> np.ndarray:
        """Per row, the weighted sums of ``ones``, ``conf``, ``hits`` or ``misses`` per tie group."""
        values = {"ones": np.ones(self.size), "conf": self.conf, "hits": self.hits, "misses": 1.0 - self.hits}[name]
        return self.sums(weights, self.matrix(("group", name), self.group, values, self.n_groups))

    def column_blocks(self, width: int) -> list[tuple[int, list[sparse.csr_matrix]]]:
        """The tie groups in blocks of ``width``: per block, its first group and the sparse ``[width, Q]`` sums of
        ``ones``, ``conf`` and ``hits`` by (group, query) (ready to multiply ``weights.T``), for the fine level of
        the equal-mass search."""
        key = ("column-blocks", width)
        if key not in self._cache:
            full = [sparse.csr_matrix((values, (self.group, self.query)), shape=(self.n_groups, self.n_queries))
                    for values in (np.ones(self.size), self.conf, self.hits)]
            self._cache[key] = [(first, [m[first:first + width] if width < self.n_groups else m for m in full])
                                for first in range(0, self.n_groups, width)]
        return self._cache[key]  # type: ignore[no-any-return]

    def query_sums(self, weights: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per row, the weighted sum of ``values`` over all pairs ``[B]`` (dense: one number per query)."""
        return weights @ np.bincount(self.query, weights=values, minlength=self.n_queries)

    def total(self, weights: np.ndarray) -> np.ndarray:
        """Pairs in each resample."""
        return weights @ self.pairs_per_query

    def grid(self, points: int) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """relplot's ``smooth_round_to_grid`` as two sparse maps: queries -> grid (residual, ones)."""
        f = self.conf
        index = (f * (points - 1)).astype(int).clip(0, points - 2)
        frac = f * (points - 1) - index
        cols = np.concatenate([index, index + 1])
        spread = np.concatenate([1 - frac, frac])
        residual = np.concatenate([f - self.hits, f - self.hits])
        return (self.matrix(("grid-resid", points), cols, spread * residual, points),
                self.matrix(("grid-ones", points), cols, spread, points))


# ------------------------------------------------------------------ binned estimators
