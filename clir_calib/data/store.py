"""Read the prepared folder that ``clir-calib prepare`` writes (``data/writer.py``).

``load_bitext`` gives aligned (en, xx) pairs, ``load_task`` one retrieval task as plain dicts,
``available_tasks`` what a prepared folder holds. Missing pieces are one-line errors saying which
``clir-calib prepare`` run makes them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from clir_calib.config import EVAL_SPLITS, LANGUAGES, TASKS, check_languages, check_splits, known_first
from clir_calib.data import layout
from clir_calib.errors import DataError


@dataclass(frozen=True)
class Bitext:
    """Aligned pairs: ``en[i]`` and ``xx[i]`` are translations of each other (ids ``{split}-{i}``)."""

    ids: list[str]
    en: list[str]
    xx: list[str]
    lang: str = ""
    split: str = ""

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class RetrievalTask:
    """English queries against a target-language corpus; ``qrels[qid][docid] = 1`` for relevant pairs."""

    task: str
    lang: str
    split: str
    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _prepared_root(prepared: str | os.PathLike[str]) -> Path:
    root = Path(prepared)
    if not (root / "manifest.json").is_file():
        raise DataError(f"no prepared data at {root}; run `clir-calib prepare --out {root}` first")
    return root


def load_manifest(prepared: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``manifest.json`` of a prepared folder (counts, source, input checksums)."""
    root = _prepared_root(prepared)
    from clir_calib.stored import read_json

    return dict(read_json(root / "manifest.json", f"run `clir-calib prepare --out {root} --overwrite`", expect=dict))


def prepare_command(root: Path, langs: list[str] | None = None, splits: list[str] | None = None,
                    params: dict[str, Any] | None = None) -> str:
    """The ``clir-calib prepare`` command that rebuilds ``root`` from the same dataset, source and parameters
    (``params`` changed), with ``langs`` and ``splits`` added: the one fix every "not prepared" error names."""
    import shlex

    manifest = load_manifest(root)
    dataset: dict[str, Any] = manifest["dataset"] if isinstance(manifest.get("dataset"), dict) else {}
    source: dict[str, Any] = manifest["source"] if isinstance(manifest.get("source"), dict) else {}
    have_langs = [str(x) for x in manifest.get("langs") or []]
    have_splits = [str(x) for x in manifest.get("splits") or []]
    words = ["clir-calib", "prepare", "--dataset", str(dataset.get("name") or "multi30k")]
    location = source.get("location")
    if location:
        words += ["--url" if source.get("kind") == "url" else "--source", str(location)]
    words += ["--langs", ",".join(dict.fromkeys([*have_langs, *(langs or [])]))]
    words += ["--splits", ",".join(dict.fromkeys([*have_splits, *(splits or [])]))]
    for key, value in sorted({**(dataset.get("params") or {}), **(params or {})}.items()):
        words += ["--set", f"data.params.{key}={json.dumps(value)}"]
    words += ["--out", str(root), "--overwrite"]
    return "run `" + " ".join(shlex.quote(w) for w in words) + "`"


def _bitext_fix(root: Path, lang: str, split: str) -> str:
    dataset = load_manifest(root).get("dataset")
    if isinstance(dataset, dict) and (dataset.get("params") or {}).get("bitext") is False:
        return "it was prepared with data.params.bitext=false; " + prepare_command(root, [lang], [split], {"bitext": True})
    notes = [str(n) for n in load_manifest(root).get("notes") or [] if str(n).startswith(f"{lang}: no bitext")]
    if notes:  # the source has none: preparing again cannot add it
        return f"the source had none ({notes[0]}); add the bitext files to the source, then " + \
            prepare_command(root, [lang], [split])
    return prepare_command(root, [lang], [split])


def _load_dict(folder: Path, what: str, root: Path) -> datasets.DatasetDict:
    try:
        loaded = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError, OSError) as error:
        raise DataError(
            f"{what} in {root} is unreadable ({type(error).__name__}); run `clir-calib prepare --out {root} --overwrite`"
        ) from None
    if not isinstance(loaded, datasets.DatasetDict):
        raise DataError(f"{folder} is not a DatasetDict; run `clir-calib prepare --out {root} --overwrite`")
    return loaded


def load_bitext(
    prepared: str | os.PathLike[str], lang: str, split: str, max_pairs: int | None = None
) -> Bitext:
    """The (en, ``lang``) pairs of ``split`` (train or val); ``max_pairs`` keeps the first N."""
    check_languages([lang])
    if split not in layout.BITEXT_SPLITS:
        raise DataError(f"no bitext split {split!r}; choose from {', '.join(layout.BITEXT_SPLITS)}")
    if max_pairs is not None and max_pairs < 1:
        raise DataError(f"max_pairs must be at least 1, got {max_pairs}")
    root = _prepared_root(prepared)
    folder = root / "bitext" / lang
    if not folder.is_dir():
        have = sorted(p.name for p in (root / "bitext").glob("*") if p.is_dir())
        raise DataError(
            f"unknown language {lang!r} for bitext: {root} has no {lang} bitext (prepared: {', '.join(have) or 'none'}); "
            f"{_bitext_fix(root, lang, split)}"
        )
    table = _load_dict(folder, f"bitext/{lang}", root)
    if split not in table:
        raise DataError(f"{root} has no {split} bitext for {lang} (prepared: {', '.join(table)}); "
                        f"{_bitext_fix(root, lang, split)}")
    part = table[split]
    if max_pairs is not None and max_pairs < len(part):
        part = part.select(range(max_pairs))
    columns = part.to_dict()
    return Bitext(ids=columns["id"], en=columns["en"], xx=columns["xx"], lang=lang, split=split)


def load_task(
    prepared: str | os.PathLike[str], task: str, lang: str, split: str, max_images: int | None = None
) -> RetrievalTask:
    """One retrieval task (``translation`` or ``description``) of ``lang`` on evaluation split ``split``.

    ``max_images`` keeps the queries and documents of the split's first N images only (a smaller,
    self-consistent task for quick runs: every kept query keeps all its relevant documents).
    """
    if max_images is not None and max_images < 1:
        raise DataError(f"max_images must be at least 1, got {max_images}")
    check_languages([lang])
    check_splits([split])
    root = _prepared_root(prepared)
    folder = root / "tasks" / task / lang / split / "dataset"
    if not folder.is_dir():
        raise DataError(missing_task(root, task, lang, split))
    table = _load_dict(folder, f"tasks/{task}/{lang}/{split}", root)
    queries = table["queries"].to_dict()
    corpus = table["corpus"].to_dict()
    pairs = table["qrels"].to_dict()
    if max_images is not None:
        kept = set(list(dict.fromkeys(queries["image"]))[:max_images])
        queries = _keep_images(queries, kept)
        corpus = _keep_images(corpus, kept)
    query_ids, doc_ids = set(queries["id"]), set(corpus["id"])
    qrels: dict[str, dict[str, int]] = {}
    for qid, docid, rel in zip(pairs["qid"], pairs["docid"], pairs["rel"], strict=True):
        if qid in query_ids and docid in doc_ids:
            qrels.setdefault(qid, {})[docid] = int(rel)
    return RetrievalTask(
        task=task,
        lang=lang,
        split=split,
        queries=dict(zip(queries["id"], queries["text"], strict=True)),
        corpus=dict(zip(corpus["id"], corpus["text"], strict=True)),
        qrels=qrels,
    )


def _keep_images(columns: dict[str, list[Any]], images: set[str]) -> dict[str, list[Any]]:
    """Rows of the kept images; rows of no image (``""``, folder collections' documents) are always kept."""
    keep = [i for i, image in enumerate(columns["image"]) if image in images or image == ""]
    return {name: [values[i] for i in keep] for name, values in columns.items()}


def available_tasks(prepared: str | os.PathLike[str]) -> list[tuple[str, str, str]]:
    """Every (task, lang, split) with a prepared dataset: Multi30k's tasks, languages and splits in their
    usual order, others by name."""
    root = _prepared_root(prepared)
    found = [tuple(p.relative_to(root / "tasks").parts[:3]) for p in (root / "tasks").glob("*/*/*/dataset")
             if p.is_dir()]
    return sorted(((t, lang, s) for t, lang, s in found),
                  key=lambda e: (known_first(TASKS, e[0]), known_first(LANGUAGES, e[1]), known_first(EVAL_SPLITS, e[2])))


def missing_task(root: Path, task: str, lang: str, split: str) -> str:
    """Why ``root`` has no ``task`` for ``lang``/``split``, naming what it has and the prepare run that adds it."""
    entries = available_tasks(root)
    redo = f"run `clir-calib prepare --langs {lang} --splits {split} --out {root} --overwrite` (with all you need)"
    tasks = sorted({t for t, _, _ in entries}, key=lambda t: known_first(TASKS, t))
    if task not in tasks:
        return f"unknown task {task!r}; {root} has tasks {', '.join(tasks) or 'none'}"
    langs = sorted({lang_ for _, lang_, _ in entries}, key=lambda x: known_first(LANGUAGES, x))
    if lang not in langs:
        return f"unknown language {lang!r}; {root} has tasks in {', '.join(langs)}; {redo}"
    splits = sorted({s for _, _, s in entries}, key=lambda x: known_first(EVAL_SPLITS, x))
    if split not in splits:
        return f"unknown split {split!r}; {root} has tasks on {', '.join(splits)}; {redo}"
    here = sorted({t for t, lang_, s in entries if s == split and lang_ == lang})
    if here:
        return (f"the {task} task is unavailable for {lang}/{split} in {root} (it has {', '.join(here)} there; "
                "the source had no data for it: see the notes in its manifest.json)")
    others = sorted({lang_ for _, lang_, s in entries if s == split})
    return (f"no {lang} documents for {split} in {root} (the source has none: {split} has {', '.join(others)}); "
            "choose another split or language")
