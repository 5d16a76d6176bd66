"""A sentence-transformers evaluator for calibration: ECE, smECE and Brier of a retriever's scores during training.

Given a small labelled retrieval set (``queries``, ``corpus``, ``relevant_docs`` as sentence-transformers'
``InformationRetrievalEvaluator`` takes them), it encodes both sides, keeps each query's top ``top_k`` documents by
cosine, and measures clir-calib's two raw views: **listwise** (softmax over the candidates at ``temperature``; top-1
confidence against top-1 relevance) and **pointwise** (``sigmoid(scale * s + bias)`` of the top ``depth`` pairs
against relevance). ``temperature`` defaults to the model's training temperature (E5: 0.01), as ``evaluate``
resolves it. It follows the evaluator conventions: a results dict whose keys carry ``name``,
``primary_metric`` (listwise ECE, lower is better, so ``greater_is_better = False``) and the model card record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.evaluation.views import raw_views
from clir_calib.metrics.weighted import Pairs, weighted_metrics
from clir_calib.retrieval.scored import ScoredRun

METRICS = ("ece_equal_width", "smece", "brier", "cb_ece")


def _base() -> type:
    try:
        from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.evaluation import SentenceEvaluator  # type: ignore[no-redef]
    return SentenceEvaluator  # type: ignore[no-any-return]


class CalibrationEvaluator(_base()):  # type: ignore[misc]
    """Listwise and pointwise calibration (ECE, smECE, Brier, CB-ECE) of cosine scores on a labelled set."""

    def __init__(self, queries: dict[str, str], corpus: dict[str, str], relevant_docs: dict[str, set[str]],
                 temperature: float | None = None, sigmoid: tuple[float, float] = (1.0, 0.0), top_k: int = 100,
                 depth: int = 10, bins: int = 15, name: str = "", batch_size: int = 32,
                 query_prompt: str | None = None, corpus_prompt: str | None = None) -> None:
        super().__init__()
        self.qids = [q for q in queries if relevant_docs.get(q)]
        self.queries = [queries[q] for q in self.qids]
        self.doc_ids = list(corpus)
        self.corpus = [corpus[d] for d in self.doc_ids]
        self.relevant = {q: set(relevant_docs[q]) for q in self.qids}
        self.temperature, self.sigmoid = temperature, (float(sigmoid[0]), float(sigmoid[1]))
        self.top_k, self.depth, self.bins, self.name, self.batch_size = top_k, depth, bins, name, batch_size
        self.query_prompt, self.corpus_prompt = query_prompt, corpus_prompt
        self.greater_is_better = False
        self.primary_metric = "listwise_ece_equal_width"

    def scored_run(self, model: Any) -> ScoredRun:
        """Each query's top ``top_k`` documents by cosine, in rank order, labelled by ``relevant_docs``."""
        q = model.encode(self.queries, prompt=self.query_prompt, batch_size=self.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        d = model.encode(self.corpus, prompt=self.corpus_prompt, batch_size=self.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        scores = np.asarray(q, dtype=np.float64) @ np.asarray(d, dtype=np.float64).T
        k = min(self.top_k, scores.shape[1])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        ranked = np.take_along_axis(scores, order, axis=1)
        doc_ids = [[self.doc_ids[j] for j in row] for row in order]
        labels = np.array([[1 if d in self.relevant[qid] else 0 for d in row] for qid, row in zip(self.qids, doc_ids,
                                                                                                   strict=True)])
        n_relevant = np.array([len(self.relevant[qid]) for qid in self.qids], dtype=np.int32)
        return ScoredRun(self.qids, doc_ids, ranked.astype(np.float32), labels.astype(np.int8), n_relevant)

    def listwise_temperature(self, model: Any) -> float:
        """``temperature``, else the model's training temperature as ``evaluate`` resolves it (E5: 0.01)."""
        if self.temperature is not None:
            return float(self.temperature)
        from clir_calib.models.temperature import resolve_temperature

        transformer = model[0].auto_model if hasattr(model, "__getitem__") else None
        name = str(getattr(transformer, "name_or_path", "") or "")
        folder = Path(name) if name and Path(name).is_dir() else None
        return resolve_temperature(None, [name], folder).value

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
                 ) -> dict[str, float]:
        run = self.scored_run(model)
        views = raw_views(run, self.listwise_temperature(model), *self.sigmoid, self.depth)
        metrics: dict[str, float] = {}
        for view, pairs in views.items():
            found = weighted_metrics(Pairs.per_query(pairs.confidences, pairs.correct),
                                     np.ones((1, pairs.confidences.shape[0])), self.bins, METRICS)
            metrics.update({f"{view}_{name}": float(value[0]) for name, value in found.items()})
        metrics["top1_accuracy"] = float(run.labels[:, 0].mean())
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics
