"""Translate one prepared split's captions and score them against the English captions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clir_calib.baselines import CorpusContext
from clir_calib_nmt.baselines import NmtBaseline
from clir_calib_nmt.references import caption_references
from clir_calib_nmt.scoring import translation_scores


def translate_split(
    model: str,
    prepared: Path,
    lang: str,
    split: str,
    cache_dir: Path,
    device: str = "auto",
    num_beams: int = 4,
    batch_size: int = 32,
    max_length: int = 128,
    progress: bool = True,
    out: Path | None = None,
) -> dict[str, Any]:
    """Translations of the ``lang`` captions of ``split`` (line order) with BLEU/chrF vs English; written to
    ``out`` (one per line, atomically) when given."""
    from clir_calib.atomic import write_text
    from clir_calib.config import check_languages, check_splits
    from clir_calib.data.store import load_task

    check_languages([lang])
    check_splits([split])
    task = load_task(prepared, "translation", lang, split)
    by_id = caption_references(prepared, lang, split)
    ids, references = list(by_id), list(by_id.values())
    baseline = NmtBaseline(
        models={lang: model},
        num_beams=num_beams,
        batch_size=batch_size,
        max_length=max_length,
        progress=progress,
    )
    context = CorpusContext(
        lang=lang,
        split=split,
        task="translation",
        prepared=Path(prepared),
        cache_dir=Path(cache_dir),
        device=device,
    )
    hypotheses = baseline.transform_corpus(ids, [task.corpus[i] for i in ids], context)
    if out is not None:
        write_text(out, "".join(t.replace("\n", " ") + "\n" for t in hypotheses))
    return {
        "lang": lang,
        "split": split,
        "model": model,
        "scores": translation_scores(hypotheses, references),
        "cache": baseline.last_stats,
        "ids": ids,
        "translations": hypotheses,
    }
