"""Multi30k's English caption of each caption document: the references for BLEU and the ``oracle``."""

from __future__ import annotations

import re
from pathlib import Path

from clir_calib.errors import DataError


def caption_references(prepared: Path, lang: str, split: str) -> dict[str, str]:
    """``{document id: English caption}`` for the ``lang`` captions of ``split`` (ids ``{lang}-{split}-{i}``,
    whose English line ``i`` is the translation task's query ``{split}-{i}``), in line order."""
    from clir_calib.data.store import load_task

    task = load_task(prepared, "translation", lang, split)
    caption = re.compile(rf"^{re.escape(lang)}-{re.escape(split)}-(\d+)$")
    numbered = sorted((int(m.group(1)), doc_id) for doc_id in task.corpus if (m := caption.match(doc_id)))
    if not numbered:
        raise DataError(f"no {lang} captions of {split} in {prepared}; run 'clir-calib prepare' for them")
    references = {}
    for line, doc_id in numbered:
        query_id = f"{split}-{line}"
        if query_id not in task.queries:
            raise DataError(f"no English caption {query_id!r} for {doc_id!r} in {prepared}; re-run 'clir-calib prepare'")
        references[doc_id] = task.queries[query_id]
    return references
