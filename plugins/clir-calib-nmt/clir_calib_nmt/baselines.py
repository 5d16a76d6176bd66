"""The ``nmt`` (translate-test) and ``oracle`` document baselines.

Both rewrite target-language documents into English; ``evaluate`` then encodes them with the
English teacher like any other system. ``oracle`` uses Multi30k's own English captions: the
upper bound of translate-test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clir_calib.baselines import BaselinePreparation, CorpusContext, DocumentBaseline
from clir_calib.errors import ClirCalibError, ConfigError, DataError, ModelError
from clir_calib.params import Param
from clir_calib_nmt.cache import TranslationCache, model_folder_hash
from clir_calib_nmt.translator import GenerationSettings, Seq2SeqTranslator, locate_model, read_metadata


class LanguageModels(dict[str, str]):
    """Translation model per source language: a mapping, or text like ``de=runs/nmt-de,fr=PATH``."""

    def __init__(self, value: Mapping[str, Any] | str | None = None) -> None:
        if value is None or value == "":
            super().__init__()
        elif isinstance(value, str):
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
                raise ValueError(value)
            super().__init__({k.strip(): v.strip() for k, v in pairs})
        elif isinstance(value, Mapping):
            super().__init__({str(k): str(v) for k, v in value.items()})
        else:
            raise TypeError(value)


class NmtBaseline(DocumentBaseline):
    """Translate-test: documents machine-translated into English by a seq2seq model."""

    name = "nmt"
    description = "Translate documents into English with a seq2seq model (e.g. from nmt-train), cached."
    citation = "Translate-test baseline as in Huang, Yu, Allan (WSDM 2023), OPTICAL."
    params = (
        Param(
            "models",
            {},
            "model folder or hub name per language, e.g. {de: runs/nmt-de}",
            type=LanguageModels,
        ),
        Param("model_template", "", "used for languages not in models, e.g. runs/nmt-{lang}", type=str),
        Param("num_beams", 4, "beam size", type=int),
        Param("batch_size", 32, "sentences per generate() call", type=int),
        Param("max_length", 128, "source tokens kept and target tokens generated", type=int),
        Param("progress", True, "show a progress bar while translating", type=bool),
        Param("train_encoder", "intfloat/multilingual-e5-small",
              "clir-calib run: encoder of the model trained for languages without one", type=str),
        Param("train_max_pairs", 10000, "clir-calib run: training pairs (0: all)", type=int),
        Param("train_epochs", 2, "clir-calib run: training epochs", type=int),
        Param("train_encoder_layers", 8, "clir-calib run: encoder layers kept (0: all)", type=int),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        for name in ("num_beams", "batch_size", "max_length"):
            if self.config[name] < 1:
                raise ConfigError(f"nmt: parameter {name!r} must be at least 1, got {self.config[name]}")
        self.settings = GenerationSettings(
            num_beams=self.config["num_beams"],
            batch_size=self.config["batch_size"],
            max_length=self.config["max_length"],
        )
        self.last_stats: dict[str, int] = {}
        self._translators: dict[tuple[Path, str], Seq2SeqTranslator] = {}

    def prepare(self, context: BaselinePreparation) -> dict[str, Any]:
        """For ``clir-calib run``: train an xx->en model on the study's own bitext for every study
        language that has no model (as ``nmt-train`` would), and return the ``models`` mapping."""
        from clir_calib.data.store import load_bitext
        from clir_calib_nmt.cli import resolve_encoder
        from clir_calib_nmt.training import NmtTrainConfig, Pairs, train_nmt

        models = dict(self.config["models"])
        for lang in context.langs:
            if models.get(lang) or self.config["model_template"]:
                continue
            out = context.out / f"nmt-{lang}"
            if not (out / "result.json").is_file():
                config = NmtTrainConfig(
                    lang=lang, encoder=self.config["train_encoder"],
                    max_pairs=self.config["train_max_pairs"] or None, epochs=self.config["train_epochs"],
                    encoder_layers=self.config["train_encoder_layers"] or None, seed=context.seed,
                    device=context.device,
                )
                config.check()
                train = load_bitext(context.prepared, lang, "train", max_pairs=config.max_pairs)
                val = load_bitext(context.prepared, lang, "val")
                train_nmt(Pairs(list(train.xx), list(train.en)), Pairs(list(val.xx), list(val.en)), config, out,
                          encoder_folder=resolve_encoder(config.encoder), overwrite=True, progress=context.progress)
            models[lang] = str(out)
        return {"models": models}

    def get_config_dict(self) -> dict[str, Any]:
        """Plain data (YAML/JSON-safe): the models mapping as a plain dict."""
        return {**self.config, "models": dict(self.config["models"])}

    def model_name(self, lang: str) -> str:
        """The model given for ``lang``; a one-line error saying how to provide one when there is none."""
        given = self.config["models"].get(lang)
        if given:
            return str(given)
        if self.config["model_template"]:
            return str(self.config["model_template"]).replace("{lang}", lang)
        raise ClirCalibError(
            f"nmt: no translation model for language {lang!r}; train one with 'clir-calib nmt-train "
            f"--lang {lang} --data PREP --out runs/nmt-{lang}' and pass it as params models: {{{lang}: "
            f"runs/nmt-{lang}}} (or model_template: runs/nmt-{{lang}})"
        )

    def model_folder(self, lang: str) -> Path:
        """The local folder of the model for ``lang``, checked against the language it was trained for."""
        name = self.model_name(lang)
        try:
            folder = locate_model(name)
        except ModelError as error:
            raise ModelError(f"nmt: no usable translation model for language {lang!r}: {error}") from None
        trained_for = read_metadata(folder).get("source_lang")
        if trained_for and trained_for != lang:
            raise ModelError(
                f"nmt: model {name} translates {trained_for}->en, not {lang}->en; "
                f"give a {lang} model in params models ({lang}: PATH)"
            )
        return folder

    def transform_corpus(self, doc_ids: list[str], texts: list[str], context: CorpusContext) -> list[str]:
        folder = self.model_folder(context.lang)
        cache = TranslationCache(context.cache_dir, model_folder_hash(folder), self.settings.cache_key())
        unique = list(dict.fromkeys(texts))
        translations = cache.get(unique)
        missing = [text for text in unique if text not in translations]
        if missing:
            translator = self._translator(folder, context.device)
            new = dict(
                zip(missing, translator.translate(missing, progress=self.config["progress"]), strict=True)
            )
            cache.put(new)
            translations.update(new)
        self.last_stats = {
            "documents": len(texts),
            "from_cache": len(unique) - len(missing),
            "translated": len(missing),
        }
        return [translations[text] for text in texts]

    def _translator(self, folder: Path, device: str) -> Seq2SeqTranslator:
        key = (folder, device)
        if key not in self._translators:
            self._translators[key] = Seq2SeqTranslator.load(folder, device=device, settings=self.settings)
        return self._translators[key]


class OracleBaseline(DocumentBaseline):
    """Reference translations: each caption replaced by the English caption of the same image.

    German task-2 descriptions (``de-{split}-{i}-d{k}``, description task) have no English
    translation; by default they are kept untranslated (so that row is an upper bound for the
    caption documents only), or refused with ``untranslatable: error``.
    """

    name = "oracle"
    description = "Multi30k's English captions as the 'translation': the upper bound of translate-test."
    citation = "Elliott et al. (2016), Multi30K: the human translations of the captions."
    params = (
        Param(
            "untranslatable",
            "keep",
            "documents without an English counterpart: keep as they are, or error",
            type=str,
            choices=("keep", "error"),
        ),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.last_stats: dict[str, int] = {}

    def transform_corpus(self, doc_ids: list[str], texts: list[str], context: CorpusContext) -> list[str]:
        from clir_calib.data.store import load_task

        if len(doc_ids) != len(texts):
            raise DataError(f"oracle: {len(doc_ids)} document ids but {len(texts)} texts")
        english = load_task(context.prepared, "translation", context.lang, context.split).queries
        caption_id = re.compile(rf"^{re.escape(context.lang)}-{re.escape(context.split)}-(\d+)$")
        output: list[str] = []
        kept = 0
        for doc_id, text in zip(doc_ids, texts, strict=True):
            match = caption_id.match(doc_id)
            if match:
                query_id = f"{context.split}-{match.group(1)}"
                if query_id not in english:
                    raise DataError(
                        f"oracle: no English caption {query_id!r} for document {doc_id!r} in "
                        f"{context.prepared}; re-run 'clir-calib prepare'"
                    )
                output.append(english[query_id])
            elif self.config["untranslatable"] == "keep":
                output.append(text)
                kept += 1
            else:
                raise DataError(
                    f"oracle: document {doc_id!r} has no English counterpart; set params untranslatable: keep "
                    "to score it untranslated"
                )
        self.last_stats = {"documents": len(texts), "replaced": len(texts) - kept, "kept_untranslated": kept}
        return output
