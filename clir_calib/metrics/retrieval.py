"""Per-query retrieval metrics from rank-ordered binary labels: MAP, MRR@10, nDCG@10, R@1/5/10.

The definitions are trec_eval's (as used by ``ir_measures``/``pytrec_eval``):

- AP: sum over relevant retrieved documents of precision at their rank, divided by the number of
  relevant documents in the qrels (retrieved or not), over the whole retrieved list;
- RR@10: 1 / rank of the first relevant document in the top 10, else 0;
- nDCG@10: binary gains, discount 1/log2(rank + 1), ideal ranking built from all relevant documents
  in the qrels;
- R@k: relevant documents in the top k divided by the relevant documents in the qrels.

A query with no relevant document gets 0 everywhere (trec_eval's convention for judged queries).
The ranking must already be in trec_eval's order: score descending, ties by document id
descending (see :func:`clir_calib.retrieval.search.trec_order`).
"""

from __future__ import annotations

import numpy as np

from clir_calib.errors import DataError

#: Metric names in report order, spelled as ``ir_measures`` spells them.
RETRIEVAL_METRICS: tuple[str, ...] = ("AP", "RR@10", "nDCG@10", "R@1", "R@5", "R@10")

#: Friendlier labels for tables.
METRIC_LABELS: dict[str, str] = {"AP": "MAP", "RR@10": "MRR@10"}


def _checked(labels: np.ndarray, n_relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rel = np.asarray(labels)
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    if rel.ndim != 2 or n_rel.shape != (rel.shape[0],):
        raise DataError(f"labels must be [queries, depth] and n_relevant [queries]; got {rel.shape}, {n_rel.shape}")
    rel = (rel > 0).astype(np.float64)
    if (rel.sum(axis=1) > n_rel).any():
        raise DataError("a query retrieved more relevant documents than its qrels list; labels and qrels disagree")
    return rel, n_rel


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def average_precision(labels: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """AP per query over the whole retrieved depth."""
    rel, n_rel = _checked(labels, n_relevant)
    ranks = np.arange(1, rel.shape[1] + 1, dtype=np.float64)
    precision_at = np.cumsum(rel, axis=1) / ranks
    return _safe_divide((precision_at * rel).sum(axis=1), n_rel)


def reciprocal_rank(labels: np.ndarray, n_relevant: np.ndarray, cutoff: int = 10) -> np.ndarray:
    """RR@cutoff per query."""
    rel, _ = _checked(labels, n_relevant)
    top = rel[:, :cutoff]
    hit = top.any(axis=1)
    first = np.argmax(top, axis=1).astype(np.float64) + 1.0
    return np.where(hit, 1.0 / first, 0.0)


def ndcg(labels: np.ndarray, n_relevant: np.ndarray, cutoff: int = 10) -> np.ndarray:
    """nDCG@cutoff per query with binary gains."""
    rel, n_rel = _checked(labels, n_relevant)
    discounts = 1.0 / np.log2(np.arange(2, cutoff + 2, dtype=np.float64))
    top = rel[:, :cutoff]
    dcg = (top * discounts[: top.shape[1]]).sum(axis=1)
    ideal_counts = np.minimum(n_rel, cutoff).astype(np.int64)
    ideal_prefix = np.concatenate([[0.0], np.cumsum(discounts)])
    return _safe_divide(dcg, ideal_prefix[ideal_counts])


def recall(labels: np.ndarray, n_relevant: np.ndarray, cutoff: int) -> np.ndarray:
    """R@cutoff per query."""
    rel, n_rel = _checked(labels, n_relevant)
    return _safe_divide(rel[:, :cutoff].sum(axis=1), n_rel)


def per_query_metrics(labels: np.ndarray, n_relevant: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of :data:`RETRIEVAL_METRICS`, one value per query."""
    return {
        "AP": average_precision(labels, n_relevant),
        "RR@10": reciprocal_rank(labels, n_relevant, 10),
        "nDCG@10": ndcg(labels, n_relevant, 10),
        "R@1": recall(labels, n_relevant, 1),
        "R@5": recall(labels, n_relevant, 5),
        "R@10": recall(labels, n_relevant, 10),
    }


def mean_metrics(per_query: dict[str, np.ndarray]) -> dict[str, float]:
    """The mean over queries of each per-query metric."""
    return {name: float(np.mean(values)) if len(values) else 0.0 for name, values in per_query.items()}
