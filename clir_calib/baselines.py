"""Document-side baselines (e.g. NMT translate-test), registered through ``register_baselines``.

A baseline rewrites a task's target-language documents, typically into English, before the
*teacher* encodes them as passages, and/or maps the documents' embeddings afterwards
(:meth:`DocumentBaseline.transform_embeddings`, e.g. a training-free map of a language's embedding
distribution onto English's). ``evaluate`` and ``run`` treat it like any other system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from clir_calib.params import Declared


@dataclass
class CorpusContext:
    """Where the documents come from, for baselines that need more than the texts."""

    lang: str
    split: str
    task: str
    prepared: Path  # the folder written by ``clir-calib prepare``
    cache_dir: Path  # a folder the baseline may use for caches (translations, models)
    device: str = "auto"


@dataclass
class EmbeddingContext:
    """What :meth:`DocumentBaseline.transform_embeddings` may use besides the documents' embeddings."""

    corpus: CorpusContext
    #: ``encode(texts, lang, what)``: embeddings of more texts by the same document encoder, as passages (cached
    #: under ``what``, e.g. ``"train-xx-0-2000"``); unit rows when the encoder normalises
    encode: Callable[[list[str], str, str], np.ndarray]


@dataclass
class BaselinePreparation:
    """What :meth:`DocumentBaseline.prepare` may use: the study's data, its seen language, a folder."""

    prepared: Path  # the folder written by ``clir-calib prepare``
    langs: list[str]  # languages whose bitext the study may use (the distillation language)
    out: Path  # a folder for the baseline's artefacts (models, logs); it may hold partial work
    seed: int = 13
    device: str = "auto"
    progress: bool = False
    cache_dir: Path | None = None  # shared by every run of the study: artefacts keyed by their own inputs


class DocumentBaseline(Declared):
    """Base class: turn target-language documents into texts the English teacher can score.

    Raise :class:`clir_calib.errors.ClirCalibError` (one line, naming the fix) when the baseline
    cannot serve a language, rather than returning unusable text.
    """

    #: True when :meth:`transform_embeddings` changes the embeddings (texts are then encoded as given, and cached
    #: with the base model's, since the rewrite happens after encoding)
    maps_embeddings: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.config: dict[str, Any] = self.resolve_params(params)
        #: what the last :meth:`transform_corpus` call did (counts, model, BLEU...): ``evaluate`` writes it
        #: into the entry's ``metrics.json`` under ``baseline``; JSON-safe values only
        self.last_stats: dict[str, Any] = {}

    def transform_corpus(self, doc_ids: list[str], texts: list[str], context: CorpusContext) -> list[str]:
        """Return one English text per input document, in the same order."""
        raise NotImplementedError

    def transform_embeddings(self, embeddings: np.ndarray, context: EmbeddingContext) -> np.ndarray:
        """The documents' embeddings ``[N, d]`` as they are scored (default: unchanged)."""
        return embeddings

    def prepare(self, context: BaselinePreparation) -> dict[str, Any]:
        """Optional set-up before a study evaluates this baseline, e.g. training a model on the
        study's bitext. Returns parameter updates for evaluation (``{}``: nothing to do).

        ``clir-calib run`` calls it once per configuration (its outputs are cached by a hash of the
        inputs), so a baseline needs no special case in the pipeline.
        """
        return {}

    def uses_target_bitext(self, seen_lang: str) -> bool:
        """True when this baseline, as configured, uses bitext of languages other than ``seen_lang`` (the
        distillation language): the study then marks its rows as not zero-shot."""
        return False

    def get_config_dict(self) -> dict[str, Any]:
        return dict(self.config)
