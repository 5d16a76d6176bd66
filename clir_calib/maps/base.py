"""An embedding map as a document baseline: fitted on unaligned monolingual text, applied after encoding.

The map of language ``xx`` is fitted on two *unaligned* samples of the train split: the first
``sentences`` xx captions and the ``sentences`` English captions after them (lines that are not their
translations), both encoded as passages by the system's document encoder. So it reads no relevance
label, no bitext alignment and no test text: only what a researcher has for any language, monolingual
text. Queries are untouched; documents are mapped, then put back on the unit sphere (``renormalize``)
so that scores stay cosines on the scale every view reads.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from clir_calib.baselines import CorpusContext, DocumentBaseline, EmbeddingContext
from clir_calib.errors import DataError
from clir_calib.params import Param

MAP_PARAMS: tuple[Param, ...] = (
    Param("sentences", 2000, "train captions per side the map is fitted on (xx: lines 0..N-1, English: N..2N-1, "
          "so no pair is a translation)", type=int, at_least=2, at_most=1_000_000),
    Param("renormalize", True, "put mapped documents back on the unit sphere (scores stay cosines)", type=bool),
)


class EmbeddingMap(DocumentBaseline):
    """Base class: subclasses implement :meth:`fit_map` (state from two samples) and :meth:`apply_map`."""

    maps_embeddings: ClassVar[bool] = True
    params = MAP_PARAMS

    def transform_corpus(self, doc_ids: list[str], texts: list[str], context: CorpusContext) -> list[str]:
        return list(texts)  # the texts are encoded as they are; the map acts on their embeddings

    def fit_map(self, source: np.ndarray, target: np.ndarray) -> None:
        """Fit the map from ``source`` (xx embeddings ``[n, d]``) to ``target`` (English embeddings ``[m, d]``)."""
        raise NotImplementedError

    def apply_map(self, embeddings: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_samples(self, context: EmbeddingContext) -> tuple[np.ndarray, np.ndarray]:
        """(xx sample, English sample) of the train split, unaligned, encoded by the document encoder."""
        from clir_calib.data.store import load_bitext

        n = int(self.config["sentences"])
        lang = context.corpus.lang
        bitext = load_bitext(context.corpus.prepared, lang, "train", max_pairs=2 * n)
        if len(bitext.ids) < 2 * n:
            raise DataError(f"baseline {self.name!r} needs {2 * n} {lang} train captions (two unaligned halves of "
                            f"{n}) but the prepared data has {len(bitext.ids)}; lower its sentences parameter")
        source = context.encode(list(bitext.xx[:n]), lang, f"train-0-{n}")
        target = context.encode(list(bitext.en[n:]), "en", f"train-{n}-{2 * n}")
        return np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)

    def transform_embeddings(self, embeddings: np.ndarray, context: EmbeddingContext) -> np.ndarray:
        source, target = self.fit_samples(context)
        self.fit_map(source, target)
        mapped = self.apply_map(np.asarray(embeddings, dtype=np.float64))
        if self.config["renormalize"]:
            mapped = mapped / np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
        self.last_stats = {"fitted_on": {"lang": context.corpus.lang, "xx_lines": [0, len(source)],
                                         "en_lines": [len(source), len(source) + len(target)]},
                           **self.describe_fit()}
        return mapped.astype(np.float32)

    def describe_fit(self) -> dict[str, Any]:
        """JSON-safe facts about the fitted map, for ``metrics.json``."""
        return {}
