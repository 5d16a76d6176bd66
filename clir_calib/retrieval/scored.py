"""The scored candidates of one (system, task, language, split): the common currency of
``evaluate`` and ``calibrate``.

For each query, its top-k documents in rank order with their raw similarity scores and binary
relevance labels, plus how many relevant documents the query has in the whole corpus (needed for
recall and for the share of queries whose relevant document was not retrieved at all).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clir_calib.atomic import write_npz
from clir_calib.errors import DataError
from clir_calib.stored import content_changed, write_digest


@dataclass
class ScoredRun:
    """``scores`` and ``labels`` are ``[Q, k]`` (rank order, best first); ``doc_ids`` likewise."""

    qids: list[str]
    doc_ids: list[list[str]]
    scores: np.ndarray  # float32 [Q, k]
    labels: np.ndarray  # int8 [Q, k], 1 = relevant
    n_relevant: np.ndarray  # int32 [Q]

    def __post_init__(self) -> None:
        q = len(self.qids)
        if self.scores.shape != self.labels.shape or self.scores.shape[0] != q or len(self.doc_ids) != q:
            raise DataError(
                f"scored run shapes disagree: {q} queries, scores {self.scores.shape}, labels {self.labels.shape}"
            )
        if not np.isfinite(self.scores).all():
            raise DataError("scored run contains NaN or inf scores; re-run the encoder that produced them")

    @property
    def depth(self) -> int:
        return int(self.scores.shape[1])

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(scores, labels, groups)`` flattened over all (query, candidate) pairs; groups = query index."""
        q, k = self.scores.shape
        groups = np.repeat(np.arange(q, dtype=np.int64), k)
        return self.scores.reshape(-1), self.labels.reshape(-1).astype(np.int64), groups

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a compressed ``.npz`` atomically. Document ids are stored once each (``doc_table``) with the rank
        lists as indices into it (``doc_index``): the ids repeat across queries, and compressing each occurrence
        as UCS-4 text cost most of the write."""
        positions: dict[str, int] = {}
        index = np.fromiter((positions.setdefault(doc, len(positions)) for row in self.doc_ids for doc in row),
                            dtype=np.int32, count=self.scores.size)
        write_npz(path, {
            "qids": np.asarray(self.qids, dtype=object).astype(str),
            "doc_table": np.asarray(list(positions), dtype=str),
            "doc_index": index.reshape(self.scores.shape),
            "scores": self.scores.astype(np.float32),
            "labels": self.labels.astype(np.int8),
            "n_relevant": self.n_relevant.astype(np.int32),
        })
        write_digest(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ScoredRun:
        data = read_scored_members(path, ("qids", "scores", "labels", "n_relevant"),
                                   optional=("doc_table", "doc_index", "doc_ids"))
        try:
            if "doc_index" in data and "doc_table" in data:
                doc_ids = np.asarray(data["doc_table"], dtype=object)[data["doc_index"]]
            else:  # written before the table (one id per rank)
                doc_ids = np.asarray(data["doc_ids"], dtype=object)
            return cls(
                qids=[str(q) for q in data["qids"]],
                doc_ids=[[str(d) for d in row] for row in doc_ids],
                scores=data["scores"].astype(np.float32),
                labels=data["labels"].astype(np.int8),
                n_relevant=data["n_relevant"].astype(np.int32),
            )
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise DataError(f"scored run {path} is malformed ({type(error).__name__}); re-run "
                            "'clir-calib evaluate --overwrite' for its folder") from None


def read_scored_members(path: str | os.PathLike[str], names: tuple[str, ...],
                        optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The named arrays of a ``scored.npz`` (and those of ``optional`` it has), after its recorded sha256 is
    checked; one-line errors.

    ``np.load`` reads members lazily, so asking for ``("scores",)`` reads only the scores (what a
    label-free adapter may see).
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"scored run {file} not found; run 'clir-calib evaluate' first")
    if content_changed(file):
        raise DataError(f"scored run {file} changed since evaluate wrote it (its .sha256 differs); re-run "
                        "'clir-calib evaluate --overwrite' for its folder")
    try:
        with np.load(file, allow_pickle=False) as data:
            return {name: data[name] for name in (*names, *(n for n in optional if n in data.files))}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"scored run {file} is truncated or malformed ({type(error).__name__}); re-run "
                        "'clir-calib evaluate --overwrite' for its folder") from None
