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
#: up to this many weight rows (a point estimate) sums are ``bincount``s over the pairs: building a sparse matrix
#: costs more than it saves for one product
DENSE_ROWS = 2


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

    def weighted_sums(self, weights: np.ndarray, key: Any, columns: np.ndarray, values: np.ndarray, width: int,
                      among: np.ndarray | None = None) -> np.ndarray:
        """``weights [B, Q]`` times the ``[Q, width]`` sums of ``values`` by (query, column), dense ``[B, width]``.

        ``columns`` and ``values`` are per pair (repeated blocks of all pairs), or per pair of the mask ``among``.
        Many rows (a bootstrap) multiply a sparse matrix built once and cached under ``key``; a point estimate's
        one or two rows are ``bincount``s."""
        dense = weights.shape[0] <= DENSE_ROWS
        if dense or key not in self._cache:
            query = self.query if among is None else self.query[among]
            rows = np.tile(query, len(columns) // max(1, query.size))  # the query of each entry of ``columns``
            if dense:
                return np.stack([np.bincount(columns, weights=values * row[rows], minlength=width) for row in weights])
            self._cache[key] = sparse.csr_matrix((values, (rows, columns)), shape=(self.n_queries, width))
        return np.asarray(self._cache[key].T @ self.transposed(weights)).T  # a transposed view of a C-ordered product

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
        return self.weighted_sums(weights, ("group", name), self.group, values, self.n_groups)

    def block_group_sums(self, weights: np.ndarray, width: int, block: int) -> list[np.ndarray]:
        """For the tie groups of block ``block`` (``width`` groups per block), the weighted sums of ``ones``,
        ``conf`` and ``hits`` per group, each ``[groups in block, B]``: the fine level of the equal-mass search."""
        first = block * width
        if weights.shape[0] <= DENSE_ROWS:
            inside = (self.group >= first) & (self.group < first + width)
            groups, query = self.group[inside] - first, self.query[inside]
            size = min(width, self.n_groups - first)
            return [np.stack([np.bincount(groups, weights=values[inside] * row[query], minlength=size)
                              for row in weights], axis=1)
                    for values in (np.ones(self.size), self.conf, self.hits)]
        transposed = self.transposed(weights)  # [Q, B]
        return [np.asarray(m @ transposed) for m in self._column_blocks(width)[block][1]]

    def _column_blocks(self, width: int) -> list[tuple[int, list[sparse.csr_matrix]]]:
        """The tie groups in blocks of ``width``: per block, its first group and the sparse ``[width, Q]`` sums of
        ``ones``, ``conf`` and ``hits`` by (group, query) (ready to multiply ``weights.T``)."""
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

    def grid_sums(self, weights: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
        """relplot's ``smooth_round_to_grid`` per row: the weighted residual (``conf - hit``) and pair mass spread
        onto ``points`` mesh points ``[B, points]``."""
        f = self.conf
        index = (f * (points - 1)).astype(int).clip(0, points - 2)
        frac = f * (points - 1) - index
        cols = np.concatenate([index, index + 1])
        spread = np.concatenate([1 - frac, frac])
        residual = np.concatenate([f - self.hits, f - self.hits])
        return (self.weighted_sums(weights, ("grid-resid", points), cols, spread * residual, points),
                self.weighted_sums(weights, ("grid-ones", points), cols, spread, points))


# ------------------------------------------------------------------ binned estimators
