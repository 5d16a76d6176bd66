"""From search results to a labelled :class:`ScoredRun`, and TREC run files.

A TREC run line is ``qid Q0 docid rank score tag``. Scores are written with 9 significant
digits, enough to keep every float32 score distinct, so a tool that re-sorts by score reproduces
our ranking exactly (ties, which are true ties, are broken by document id as trec_eval does).
"""

from __future__ import annotations

import os

import numpy as np

from clir_calib.atomic import atomic_file
from clir_calib.errors import DataError
from clir_calib.retrieval.scored import ScoredRun
from clir_calib.retrieval.search import SearchResult, trec_order


def scored_run(
    qids: list[str], doc_ids: list[str], result: SearchResult, qrels: dict[str, dict[str, int]]
) -> ScoredRun:
    """Rank in trec_eval order and attach labels (qrels relevance > 0) and relevant counts."""
    if len(qids) != result.indices.shape[0]:
        raise DataError(f"{len(qids)} query ids for {result.indices.shape[0]} result rows")
    ranked_ids, ranked_scores = trec_order(result, doc_ids)
    labels = np.zeros(ranked_scores.shape, dtype=np.int8)
    n_relevant = np.zeros(len(qids), dtype=np.int32)
    for row, qid in enumerate(qids):
        judged = qrels.get(qid, {})
        relevant = {doc for doc, rel in judged.items() if rel > 0}
        n_relevant[row] = len(relevant)
        labels[row] = [1 if doc in relevant else 0 for doc in ranked_ids[row]]
    return ScoredRun(qids=list(qids), doc_ids=ranked_ids, scores=ranked_scores, labels=labels, n_relevant=n_relevant)


def format_trec_run(run: ScoredRun, tag: str) -> str:
    """The whole run as TREC text: ``qid Q0 docid rank score tag`` per line, scores as ``%.9g``.

    A query's lines are one ``%``-format of a template made once for the run's depth (the ranks and the tag in
    place), filled with the query's ids and scores: a C-level loop instead of one f-string per line (the default
    study writes 100,000 lines per entry)."""
    tag = tag.replace(" ", "_") or "clir-calib"
    depth = run.scores.shape[1] if run.scores.ndim == 2 else 0
    escaped_tag = tag.replace("%", "%%")
    template = "".join(f"%s Q0 %s {rank} %.9g {escaped_tag}\n" for rank in range(1, depth + 1))
    values: list[object] = [None] * (3 * depth)
    parts = []
    for qid, docs, scores in zip(run.qids, run.doc_ids, run.scores.astype(np.float64).tolist(), strict=True):
        if len(docs) != depth:
            raise DataError(f"query {qid} has {len(docs)} document ids for {depth} scores; the run is malformed")
        values[0::3] = [qid] * depth
        values[1::3] = docs
        values[2::3] = scores
        parts.append(template % tuple(values))
    return "".join(parts)


def write_trec_run(path: str | os.PathLike[str], run: ScoredRun, tag: str) -> None:
    """Write ``run`` as a TREC run file, atomically."""
    with atomic_file(path) as handle:
        handle.write(format_trec_run(run, tag))


def write_trec_qrels(path: str | os.PathLike[str], qrels: dict[str, dict[str, int]], qids: list[str]) -> None:
    """TREC qrels (``qid 0 docid rel``) for exactly ``qids``, in their order, atomically.

    Written next to each ``run.trec`` so that ``trec_eval``/``ir_measures`` on the folder's own pair
    score the same queries against the same judgements as ``metrics.json``.
    """
    with atomic_file(path) as handle:
        for qid in qids:
            for doc, rel in qrels.get(qid, {}).items():
                handle.write(f"{qid} 0 {doc} {int(rel)}\n")
