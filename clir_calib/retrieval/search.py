"""Top-k search over an embedding matrix: exact chunked matrix products, or FAISS.

Memory stays bounded: queries are processed ``query_chunk`` at a time and documents
``doc_chunk`` at a time, keeping only a running top-k per query, so a score matrix larger than
``query_chunk x doc_chunk`` never exists. Scores are inner products (cosine for normalised
embeddings).

Rankings follow trec_eval's order (score descending, ties by document id descending) so that a
written run file is scored identically by ``ir_measures``/``pytrec_eval`` and by
:mod:`clir_calib.metrics.retrieval`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from clir_calib.config import BACKENDS
from clir_calib.errors import ConfigError, DataError, NumericalError

if TYPE_CHECKING:
    import torch  # imported where a search runs: reading and writing runs (helper processes) need no torch


@dataclass
class SearchResult:
    """``indices`` and ``scores`` are ``[Q, k]``, best first; indices point into the document list."""

    indices: np.ndarray  # int64 [Q, k]
    scores: np.ndarray  # float32 [Q, k]


def _as_matrix(values: np.ndarray | torch.Tensor, what: str) -> torch.Tensor:
    import torch

    matrix = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    matrix = matrix.detach().to("cpu", torch.float32)
    if matrix.ndim != 2:
        raise DataError(f"{what} embeddings must be a matrix [n, dim], got shape {tuple(matrix.shape)}")
    if not torch.isfinite(matrix).all():
        raise NumericalError(f"{what} embeddings contain NaN or inf; re-encode them (delete the index cache)")
    return matrix


def exact_top_k(
    queries: np.ndarray | torch.Tensor,
    docs: np.ndarray | torch.Tensor,
    k: int,
    query_chunk: int = 1024,
    doc_chunk: int = 65536,
) -> SearchResult:
    """Exact top-``k`` by inner product, chunked over queries and documents."""
    import torch

    q = _as_matrix(queries, "query")
    d = _as_matrix(docs, "document")
    if q.shape[1] != d.shape[1]:
        raise DataError(f"query and document embeddings differ in width: {q.shape[1]} vs {d.shape[1]}")
    if k < 1 or query_chunk < 1 or doc_chunk < 1:
        raise ConfigError("top_k and chunk sizes must be at least 1")
    k = min(k, d.shape[0])
    all_scores = np.empty((q.shape[0], k), dtype=np.float32)
    all_indices = np.empty((q.shape[0], k), dtype=np.int64)
    for q_start in range(0, q.shape[0], query_chunk):
        block = q[q_start : q_start + query_chunk]
        best_scores = torch.full((block.shape[0], 0), float("-inf"))
        best_indices = torch.zeros((block.shape[0], 0), dtype=torch.int64)
        for d_start in range(0, d.shape[0], doc_chunk):
            scores = block @ d[d_start : d_start + doc_chunk].T
            take = min(k, scores.shape[1])
            top_scores, top_idx = torch.topk(scores, take, dim=1)
            merged_scores = torch.cat([best_scores, top_scores], dim=1)
            merged_indices = torch.cat([best_indices, top_idx + d_start], dim=1)
            keep = min(k, merged_scores.shape[1])
            best_scores, order = torch.topk(merged_scores, keep, dim=1)
            best_indices = torch.gather(merged_indices, 1, order)
        all_scores[q_start : q_start + block.shape[0]] = best_scores.numpy()
        all_indices[q_start : q_start + block.shape[0]] = best_indices.numpy()
    return SearchResult(indices=all_indices, scores=all_scores)


def faiss_top_k(queries: np.ndarray | torch.Tensor, docs: np.ndarray | torch.Tensor, k: int) -> SearchResult:
    """Top-``k`` through a FAISS flat inner-product index (exact, multi-threaded)."""
    try:
        import faiss
    except ImportError:
        raise ConfigError("evaluate.backend=faiss needs faiss-cpu: pip install faiss-cpu") from None
    q = _as_matrix(queries, "query").numpy()
    d = _as_matrix(docs, "document").numpy()
    if q.shape[1] != d.shape[1]:
        raise DataError(f"query and document embeddings differ in width: {q.shape[1]} vs {d.shape[1]}")
    index = faiss.IndexFlatIP(d.shape[1])
    index.add(np.ascontiguousarray(d))
    scores, indices = index.search(np.ascontiguousarray(q), min(k, d.shape[0]))
    return SearchResult(indices=indices.astype(np.int64), scores=scores.astype(np.float32))


def top_k(
    queries: np.ndarray | torch.Tensor,
    docs: np.ndarray | torch.Tensor,
    k: int,
    backend: str = "exact",
    query_chunk: int = 1024,
    doc_chunk: int = 65536,
) -> SearchResult:
    """Dispatch to the ``exact`` or ``faiss`` backend."""
    if backend == "exact":
        return exact_top_k(queries, docs, k, query_chunk=query_chunk, doc_chunk=doc_chunk)
    if backend == "faiss":
        return faiss_top_k(queries, docs, k)
    raise ConfigError(f"unknown search backend {backend!r}; choose from {', '.join(BACKENDS)}")


def trec_order(result: SearchResult, doc_ids: list[str]) -> tuple[list[list[str]], np.ndarray]:
    """Per query, the retrieved ids and scores sorted by score descending, ties by id descending, all queries in
    one sort."""
    _, id_rank = np.unique(np.asarray(doc_ids, dtype=str), return_inverse=True)  # equal ids, equal ranks
    indices = np.asarray(result.indices, dtype=np.int64)
    order = np.lexsort((id_rank.reshape(-1)[indices], result.scores), axis=-1)[:, ::-1]  # ascending, read backwards
    ranked = np.take_along_axis(indices, order, axis=1)
    names = np.asarray(doc_ids, dtype=object)
    return [list(row) for row in names[ranked]], np.take_along_axis(result.scores, order, axis=1)
