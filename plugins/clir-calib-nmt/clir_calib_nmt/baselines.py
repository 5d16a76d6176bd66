"""The ``nmt`` (translate-test) document baseline: documents machine-translated into English, cached.

``evaluate`` then encodes them with the English teacher like any other system. The translator of a
language is its own model, or zero-shot a model whose encoder reads the language (``languages.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clir_calib.baselines import BaselinePreparation, CorpusContext, DocumentBaseline
from clir_calib.errors import ClirCalibError, DataError, ModelError
from clir_calib.params import Param
from clir_calib_nmt.cache import TranslationCache, model_folder_hash
from clir_calib_nmt.languages import MAX_UNKNOWN_SHARE, unknown_share
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


class LanguageList(list[str]):
    """Languages as a list or comma-separated text (``de,fr,cs``)."""

    def __init__(self, value: Any = None) -> None:
        if value is None or value == "":
            super().__init__()
        elif isinstance(value, str):
            super().__init__(item.strip() for item in value.split(",") if item.strip())
        elif isinstance(value, list | tuple):
            super().__init__(str(item) for item in value)
        else:
            raise TypeError(value)


@dataclass(frozen=True)
class ChosenModel:
    """The translator used for one language and how it relates to that language."""

    name: str
    folder: Path
    trained_on: str  # the source language of its training bitext ("" for models not from nmt-train)

    def zero_shot(self, lang: str) -> bool:
        return bool(self.trained_on) and self.trained_on != lang


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
        Param("num_beams", 4, "beam size", type=int, at_least=1, at_most=64),
        Param("batch_size", 32, "sentences per generate() call", type=int, at_least=1, at_most=65536),
        Param("max_length", 128, "source tokens kept and target tokens generated", type=int, at_least=1,
              at_most=8192),
        Param("progress", True, "show a progress bar while translating", type=bool),
        Param("zero_shot", True, "a language without its own model uses a model whose encoder reads it "
              "(e.g. the de model for fr, cs); false: refuse such languages", type=bool),
        Param("train_langs", "", "clir-calib run: train a model on each of these languages' own bitext "
              "(e.g. de,fr,cs: the supervised rows); empty: the study's distillation language only",
              type=LanguageList),
        Param("train_encoder", "intfloat/multilingual-e5-small",
              "clir-calib run: encoder of the model trained for languages without one", type=str),
        Param("train_max_pairs", 0, "clir-calib run: training pairs (0: the full bitext)", type=int, at_least=0,
              at_most=10**9),
        Param("train_epochs", 10, "clir-calib run: training epochs", type=int, at_least=1, at_most=10_000),
        Param("train_encoder_layers", 8, "clir-calib run: encoder layers kept (0: all)", type=int, at_least=0,
              at_most=1000),
        Param("train_encoder_languages", "", "clir-calib run: languages the encoder reads (empty: known for "
              "e5/XLM-R, else the training language only)", type=LanguageList),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.settings = GenerationSettings(
            num_beams=self.config["num_beams"],
            batch_size=self.config["batch_size"],
            max_length=self.config["max_length"],
        )
        self._translators: dict[tuple[Path, str], Seq2SeqTranslator] = {}

    def prepare(self, context: BaselinePreparation) -> dict[str, Any]:
        """For ``clir-calib run``: train an xx->en model on its own bitext for the study's language and every
        ``train_langs`` language that has no model (as ``nmt-train`` would), and return the ``models`` mapping.

        Models are kept in ``context.cache_dir`` (else ``context.out``) under a key of their training inputs
        (the prepared data's input checksums and the training config), so runs and methods share them.
        """
        from clir_calib.locking import folder_lock
        from clir_calib_nmt.recipe import NmtTrainConfig, training_key
        from clir_calib_nmt.training import train_from_prepared

        models = dict(self.config["models"])
        for lang in dict.fromkeys([*context.langs, *self.config["train_langs"]]):
            if models.get(lang) or self.config["model_template"]:
                continue
            config = NmtTrainConfig(
                lang=lang, encoder=self.config["train_encoder"],
                max_pairs=self.config["train_max_pairs"] or None, epochs=self.config["train_epochs"],
                encoder_layers=self.config["train_encoder_layers"] or None, seed=context.seed,
                device=context.device, encoder_languages=list(self.config["train_encoder_languages"]) or None,
            )
            config.check()
            out = (context.cache_dir or context.out) / f"nmt-{lang}-{training_key(context.prepared, config)}"
            with folder_lock(out):
                if not (out / "result.json").is_file():
                    train_from_prepared(context.prepared, config, out, overwrite=True, progress=context.progress)
            models[lang] = str(out)
        return {"models": models}

    def uses_target_bitext(self, seen_lang: str) -> bool:
        """True when a language other than ``seen_lang`` gets a model trained on its own bitext (the
        supervised rows), so the system is not a zero-shot comparison."""
        return any(lang != seen_lang for lang in [*self.config["train_langs"], *self.config["models"]])

    def get_config_dict(self) -> dict[str, Any]:
        """Plain data (YAML/JSON-safe): the models mapping as a plain dict."""
        return {**self.config, "models": dict(self.config["models"]), "train_langs": list(self.config["train_langs"]),
                "train_encoder_languages": list(self.config["train_encoder_languages"])}

    def model_name(self, lang: str) -> str | None:
        """The model given for ``lang`` (``models``, else ``model_template``), or None."""
        given = self.config["models"].get(lang)
        if given:
            return str(given)
        if self.config["model_template"]:
            return str(self.config["model_template"]).replace("{lang}", lang)
        return None

    def choose_model(self, lang: str) -> ChosenModel:
        """The translator for ``lang``: its own model, else (``zero_shot``) the first given model whose encoder
        reads ``lang`` (``encoder_languages`` in its ``clir_calib_nmt.json``); a one-line error otherwise."""
        name = self.model_name(lang)
        if name is not None:
            return self._checked(name, lang)
        if self.config["zero_shot"]:
            for other in self.config["models"].values():
                folder = self._locate(str(other), lang)
                metadata = read_metadata(folder)
                if lang in metadata.get("encoder_languages", []):
                    return ChosenModel(str(other), folder, str(metadata.get("source_lang", "")))
        given = ", ".join(f"{k}: {v}" for k, v in self.config["models"].items())
        why = (f"none of the given models ({given}) has an encoder that reads {lang}" if given and
               self.config["zero_shot"] else "zero_shot is off" if given else "no model is given")
        raise ClirCalibError(
            f"nmt: no translation model for language {lang!r} ({why}); train one with 'clir-calib nmt-train "
            f"--lang {lang} --data PREP --out runs/nmt-{lang}' and pass it as params models: {{{lang}: "
            f"runs/nmt-{lang}}} (or model_template: runs/nmt-{{lang}})"
        )

    def _locate(self, name: str, lang: str) -> Path:
        try:
            return locate_model(name)
        except ModelError as error:
            raise ModelError(f"nmt: no usable translation model for language {lang!r}: {error}") from None

    def _checked(self, name: str, lang: str) -> ChosenModel:
        """A model named for ``lang``: refused when it was trained on another language and its encoder does
        not read ``lang`` (or zero-shot use is off)."""
        folder = self._locate(name, lang)
        metadata = read_metadata(folder)
        trained_for = str(metadata.get("source_lang", ""))
        readable = lang in metadata.get("encoder_languages", [])
        if trained_for and trained_for != lang and not (readable and self.config["zero_shot"]):
            reason = "zero_shot is off" if readable else f"its encoder is not known to read {lang}"
            raise ModelError(
                f"nmt: model {name} translates {trained_for}->en, not {lang}->en ({reason}); "
                f"give a {lang} model in params models ({lang}: PATH)"
            )
        return ChosenModel(name, folder, trained_for)

    def transform_corpus(self, doc_ids: list[str], texts: list[str], context: CorpusContext) -> list[str]:
        chosen = self.choose_model(context.lang)
        if any(not text.strip() for text in texts):
            empty = next(doc_id for doc_id, text in zip(doc_ids, texts, strict=True) if not text.strip())
            raise DataError(f"nmt: document {empty!r} ({context.lang}/{context.split}) is empty; remove it from the "
                            "collection or give it text (an empty source has no translation)")
        cache = TranslationCache(context.cache_dir, model_folder_hash(chosen.folder), self.settings.cache_key())
        unique = list(dict.fromkeys(texts))
        translations = cache.get(unique)
        missing = [text for text in unique if text not in translations]
        unknown = 0.0
        if missing:
            translator = self._translator(chosen.folder, context.device)
            unknown = unknown_share(translator.tokenizer, missing)
            if unknown > MAX_UNKNOWN_SHARE:
                raise ModelError(
                    f"nmt: {unknown:.0%} of the {context.lang} source tokens are unknown to the tokenizer of "
                    f"{chosen.name}, so its encoder cannot read {context.lang}; train a {context.lang} model with "
                    f"'clir-calib nmt-train --lang {context.lang}'"
                )
            new = translator.translate(missing, progress=self.config["progress"], on_chunk=cache.put)
            translations.update(dict(zip(missing, new, strict=True)))
        self.last_stats = {
            "documents": len(texts),
            "from_cache": len(unique) - len(missing),
            "translated": len(missing),
            "model": chosen.name,
            "trained_on": chosen.trained_on,
            "zero_shot": chosen.zero_shot(context.lang),
            "unknown_share": round(unknown, 4),
            **_quality(doc_ids, [translations[text] for text in texts], context),
        }
        return [translations[text] for text in texts]

    def _translator(self, folder: Path, device: str) -> Seq2SeqTranslator:
        key = (folder, device)
        if key not in self._translators:
            self._translators[key] = Seq2SeqTranslator.load(folder, device=device, settings=self.settings)
        return self._translators[key]


def _quality(doc_ids: list[str], outputs: list[str], context: CorpusContext) -> dict[str, Any]:
    """BLEU and chrF of the caption documents against Multi30k's English captions, where the prepared data
    has them (the translation task of that split); ``{}`` for collections without references."""
    from clir_calib_nmt.references import caption_references
    from clir_calib_nmt.scoring import translation_scores

    try:
        references = caption_references(context.prepared, context.lang, context.split)
    except DataError:
        return {"references": 0}
    pairs = [(out, references[d]) for d, out in zip(doc_ids, outputs, strict=True) if d in references]
    if not pairs:
        return {"references": 0}
    scores = translation_scores([h for h, _ in pairs], [r for _, r in pairs])
    return {"references": scores["sentences"], "bleu": scores["bleu"], "chrf": scores["chrf"],
            "bleu_signature": scores["bleu_signature"]}
