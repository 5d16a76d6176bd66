"""The ``oracle`` document baseline: Multi30k's own English captions, the upper bound of translate-test."""

from __future__ import annotations

from typing import Any

from clir_calib.baselines import CorpusContext, DocumentBaseline
from clir_calib.errors import DataError
from clir_calib.params import Param


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
        from clir_calib_nmt.references import caption_references

        if len(doc_ids) != len(texts):
            raise DataError(f"oracle: {len(doc_ids)} document ids but {len(texts)} texts")
        english = caption_references(context.prepared, context.lang, context.split)
        output: list[str] = []
        kept = 0
        for doc_id, text in zip(doc_ids, texts, strict=True):
            if doc_id in english:
                output.append(english[doc_id])
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
