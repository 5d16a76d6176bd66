"""Write prepared bitext and tasks: ``datasets`` folders plus TREC files (queries.tsv, qrels.txt, corpus.jsonl)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import datasets

from clir_calib.data.datasets import BitextSplit, TaskData


@contextlib.contextmanager
def quiet_datasets(progress: bool) -> Iterator[None]:
    """Hide the ``datasets`` progress bars unless asked for, restoring the previous setting afterwards."""
    was_enabled = datasets.is_progress_bar_enabled()
    if not progress and was_enabled:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled and not datasets.is_progress_bar_enabled():
            datasets.enable_progress_bars()


def bitext_folder(prepared: Path, lang: str) -> Path:
    return prepared / "bitext" / lang


def task_folder(prepared: Path, task: str, lang: str, split: str) -> Path:
    return prepared / "tasks" / task / lang / split


def write_bitext(prepared: Path, lang: str, splits: list[BitextSplit]) -> Path:
    """``bitext/{lang}/``: a DatasetDict with one split per bitext split, columns ``id, en, xx``."""
    folder = bitext_folder(prepared, lang)
    table = datasets.DatasetDict(
        {
            part.split: datasets.Dataset.from_dict({"id": part.ids, "en": part.en, "xx": part.xx})
            for part in splits
        }
    )
    table.save_to_disk(str(folder))
    return folder


def write_task(prepared: Path, task: TaskData) -> Path:
    """``tasks/{task}/{lang}/{split}/``: TREC files and ``dataset/`` (queries, corpus, qrels)."""
    folder = task_folder(prepared, task.task, task.lang, task.split)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "queries.tsv", "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(
            f"{qid}\t{text}\n" for qid, text in zip(task.query_ids, task.query_texts, strict=True)
        )
    with open(folder / "qrels.txt", "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(f"{qid} 0 {docid} {rel}\n" for qid, docid, rel in task.qrels)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(
            json.dumps({"_id": docid, "text": text}, ensure_ascii=False) + "\n"
            for docid, text in zip(task.doc_ids, task.doc_texts, strict=True)
        )
    table = datasets.DatasetDict(
        {
            "queries": datasets.Dataset.from_dict(
                {"id": task.query_ids, "text": task.query_texts, "image": task.query_images}
            ),
            "corpus": datasets.Dataset.from_dict(
                {"id": task.doc_ids, "text": task.doc_texts, "image": task.doc_images}
            ),
            "qrels": datasets.Dataset.from_dict(
                {
                    "qid": [q for q, _, _ in task.qrels],
                    "docid": [d for _, d, _ in task.qrels],
                    "rel": [r for _, _, r in task.qrels],
                }
            ),
        }
    )
    table.save_to_disk(str(folder / "dataset"))
    return folder
