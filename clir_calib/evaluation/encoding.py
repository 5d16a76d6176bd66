"""Encode the queries and documents of prepared tasks through the embedding cache.

``clir-calib index`` calls :func:`build_index` ahead of time; ``evaluate`` calls
:func:`encode_task` and finds the cached entries, so nothing unchanged is encoded twice.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clir_calib.baselines import CorpusContext, EmbeddingContext
from clir_calib.errors import DataError
from clir_calib.retrieval.index import EmbeddingSet, encode_cached

if TYPE_CHECKING:
    from clir_calib.config import ExperimentConfig
    from clir_calib.evaluation.system import System

log = logging.getLogger(__name__)


def judged_queries(task: Any) -> list[str]:
    """The query ids with relevance judgements (others cannot be scored)."""
    qids = [qid for qid in task.queries if qid in task.qrels]
    if not qids:
        raise DataError(f"{task.task}/{task.lang}/{task.split} has no judged queries; re-run `clir-calib prepare`")
    return qids


def encode_task(
    task: Any, system: System, cfg: ExperimentConfig, progress: bool = False, queries: bool = True
) -> tuple[EmbeddingSet | None, EmbeddingSet]:
    """``(query embeddings or None, document embeddings)`` of one prepared task, cached."""
    index_root = Path(cfg.evaluate.index_dir)
    doc_ids = list(task.corpus)
    context = CorpusContext(task.lang, task.split, task.task, Path(cfg.data.prepared),
                            index_root / "baselines" / (system.baseline.name if system.baseline else "none"),
                            cfg.device)
    texts = system.documents_for(doc_ids, [task.corpus[d] for d in doc_ids], context)
    check_coverage(system.document_encoder, texts, f"{task.task}/{task.lang}/{task.split} documents")
    maps = system.baseline is not None and system.baseline.maps_embeddings
    extra = {"baseline": system.description["documents"]} if system.baseline and not maps else {}
    docs = encode_cached(system.document_encoder, doc_ids, texts, "passage", index_root, task.task, task.split,
                         task.lang, extra=extra, progress=progress)
    if maps:
        docs = mapped_documents(system, docs, context, index_root, progress)
    if not queries:
        return None, docs
    qids = judged_queries(task)
    query_set = encode_cached(system.query_encoder, qids, [task.queries[q] for q in qids], "query", index_root,
                              task.task, task.split, "en", progress=progress)
    check_same_space(system, query_set, docs)
    return query_set, docs


def mapped_documents(system: System, docs: EmbeddingSet, context: CorpusContext, index_root: Path,
                     progress: bool) -> EmbeddingSet:
    """The documents' embeddings through the baseline's embedding map; what it fits on is encoded (and cached) by
    the same document encoder."""
    assert system.baseline is not None

    def encode(texts: list[str], lang: str, what: str) -> np.ndarray:
        ids = [f"{what}-{i}" for i in range(len(texts))]
        return encode_cached(system.document_encoder, ids, texts, "passage", index_root, "bitext", what, lang,
                             progress=progress).embeddings

    matrix = np.asarray(system.baseline.transform_embeddings(docs.embeddings, EmbeddingContext(context, encode)))
    if matrix.shape != docs.embeddings.shape or not np.isfinite(matrix).all():
        raise DataError(f"baseline {system.baseline.name!r} returned {matrix.shape} embeddings (finite: "
                        f"{bool(np.isfinite(matrix).all())}) for {docs.embeddings.shape}; an embedding map must keep "
                        "the shape and give finite numbers")
    manifest = {**docs.manifest, "mapped_by": {"baseline": system.baseline.name, **system.baseline.last_stats}}
    return dataclasses.replace(docs, embeddings=matrix.astype(np.float32), manifest=manifest)


def check_coverage(encoder: Any, texts: list[str], what: str) -> None:
    """Warn when ``encoder``'s tokenizer reads more than 5% of the tokens of ``texts`` as unknown; refuse above
    half (:mod:`clir_calib.models.coverage`): its scores would tie and rank by the order of the data."""
    from clir_calib.models.coverage import REFUSE_SHARE, WARN_SHARE, unknown_share

    share = unknown_share(getattr(encoder, "tokenizer", None), texts)
    if share > REFUSE_SHARE:
        raise DataError(f"the tokenizer of {encoder.name} reads {share:.0%} of the tokens of the {what} as unknown, "
                        "so its scores would mean nothing; use a document encoder whose vocabulary covers the language")
    if share > WARN_SHARE:
        log.warning("the tokenizer of %s reads %.0f%% of the tokens of the %s as unknown; scores may be unreliable",
                    encoder.name, 100 * share, what)


def check_same_space(system: System, queries: EmbeddingSet, docs: EmbeddingSet) -> None:
    """Queries and documents of different widths cannot share a space: say which models and how to fix it."""
    q_dim, d_dim = int(queries.embeddings.shape[1]), int(docs.embeddings.shape[1])
    if q_dim == d_dim:
        return
    raise DataError(
        f"the query encoder {system.query_encoder.name} gives {q_dim}-wide vectors but the document encoder "
        f"{system.document_encoder.name} gives {d_dim}-wide ones, so they do not share a space; evaluate a distill "
        "run folder (its own teacher encodes the queries), pass --teacher with the model the documents' encoder "
        "was distilled from, or distil with distill.projection=true")


def build_index(cfg: ExperimentConfig, system: System, progress: bool = False, queries: bool = True) -> list[dict[str, Any]]:
    """Encode every configured (task, lang, split); one record per stored embedding set."""
    from clir_calib.data.store import load_task
    from clir_calib.evaluation.plan import check_evaluate_config, planned_entries

    check_evaluate_config(cfg.evaluate)
    planned, _ = planned_entries(cfg.evaluate, cfg.data.prepared)
    records = []
    for task_name, lang, split in planned:
        task = load_task(cfg.data.prepared, task_name, lang, split, max_images=cfg.evaluate.max_images)
        query_set, docs = encode_task(task, system, cfg, progress=progress, queries=queries)
        for kind, item in (("documents", docs), ("queries", query_set)):
            if item is None:
                continue
            records.append({"task": task_name, "lang": lang if kind == "documents" else "en", "split": split,
                            "kind": kind, "count": len(item.ids), "dim": int(item.embeddings.shape[1]),
                            "reused": item.reused, "path": str(item.path)})
    return records
