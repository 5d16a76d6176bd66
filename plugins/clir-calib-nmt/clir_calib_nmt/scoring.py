"""Corpus BLEU and chrF with sacrebleu (detokenised text, default settings; signatures kept)."""

from __future__ import annotations

from typing import Any

from clir_calib.errors import DataError


def translation_scores(hypotheses: list[str], references: list[str]) -> dict[str, Any]:
    """``{"bleu", "chrf", "sentences", "bleu_signature", "chrf_signature"}`` for aligned lists."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise DataError(f"{len(hypotheses)} translations but {len(references)} references; they must align")
    if not hypotheses:
        raise DataError("no sentences to score; give a non-empty validation set")
    bleu, chrf = BLEU(), CHRF()
    return {
        "bleu": round(bleu.corpus_score(hypotheses, [references]).score, 2),
        "chrf": round(chrf.corpus_score(hypotheses, [references]).score, 2),
        "sentences": len(hypotheses),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }
