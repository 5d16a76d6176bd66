"""``prepare_multi30k``: raw Multi30k -> the prepared folder every other command reads.

Everything is read and checked first (line alignment, empty lines, gzip, task-1/task-2 image
order), then written into a temporary sibling folder that is renamed to ``out`` only when
complete, so a failure never leaves a half-written output behind.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from clir_calib import __version__
from clir_calib.atomic import atomic_dir, write_json
from clir_calib.config import (
    EVAL_SPLITS,
    LANGUAGES,
    SPLITS,
    ExperimentConfig,
    check_languages,
    check_splits,
    save_config,
)
from clir_calib.data import layout
from clir_calib.data.build import (
    BitextSplit,
    Multi30kReader,
    TaskData,
    build_bitext,
    build_description,
    build_translation,
)
from clir_calib.data.sources import open_source
from clir_calib.data.writer import quiet_datasets, write_bitext, write_task
from clir_calib.errors import DataError
from clir_calib.locking import locks_output
from clir_calib.progress import progress_bar

MANIFEST_FORMAT = "clir-calib-prepared/1"


@dataclass(frozen=True)
class BitextCount:
    lang: str
    split: str
    pairs: int


@dataclass(frozen=True)
class TaskCount:
    task: str
    lang: str
    split: str
    queries: int
    documents: int
    qrels: int


@dataclass
class PrepareSummary:
    """What ``prepare_multi30k`` wrote: counts per split/language/task, skipped combinations, inputs."""

    out: Path
    source_kind: str
    source: str
    langs: list[str]
    splits: list[str]
    bitext: list[BitextCount] = field(default_factory=list)
    tasks: list[TaskCount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    seconds: float = 0.0


def _ordered(values: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    if not values:
        raise DataError(f"no {what} selected; choose from {', '.join(allowed)}")
    return [value for value in allowed if value in set(values)]


@locks_output("out")
def prepare_multi30k(
    out: str | os.PathLike[str],
    *,
    source: str | os.PathLike[str] | None = None,
    url: str | None = None,
    langs: list[str] | None = None,
    splits: list[str] | None = None,
    overwrite: bool = False,
    config: ExperimentConfig | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> PrepareSummary:
    """Prepare bitext (train, val) and retrieval tasks (val and test splits) for the chosen languages.

    ``source`` is a folder in the official layout, ``url`` the base URL of the official raw files
    (downloaded once into ``cache_dir``); with neither, the default Multi30k folder is used.
    Unset arguments come from ``config.data`` (defaults: everything). Returns the counts written.
    """
    started = time.perf_counter()
    config = dataclasses.replace(config) if config is not None else ExperimentConfig()
    langs = _ordered(
        check_languages(list(langs if langs is not None else config.data.langs)), LANGUAGES, "language"
    )
    splits = _ordered(
        check_splits(list(splits if splits is not None else config.data.splits)), SPLITS, "split"
    )
    out_path = Path(out)
    if out_path.exists() and not overwrite:
        raise DataError(
            f"output {out_path} already exists; pass --overwrite to replace it or choose another --out"
        )
    if source is None and url is None:
        source, url = config.data.source, config.data.url
    multi30k = open_source(source, url, cache_dir, pinned=config.data.checksums)
    reader = Multi30kReader(multi30k)
    summary = PrepareSummary(out_path, multi30k.kind, multi30k.location, langs, splits)

    bitext: dict[str, list[BitextSplit]] = {}
    for lang in langs:
        parts = [build_bitext(reader, split, lang) for split in splits if split in layout.BITEXT_SPLITS]
        if parts:
            bitext[lang] = parts
            summary.bitext.extend(BitextCount(lang, p.split, len(p.ids)) for p in parts)
    tasks: list[TaskData] = []
    for split in (s for s in splits if s in EVAL_SPLITS):
        for lang in langs:
            if not layout.has_language(split, lang):
                summary.notes.append(f"{split}: Multi30k has no {lang} captions, so no {lang} tasks there")
                continue
            tasks.append(build_translation(reader, split, lang))
            if layout.has_descriptions(split):
                tasks.append(build_description(reader, split, lang))
        if not layout.has_descriptions(split):
            summary.notes.append(
                f"{split}: description task unavailable (Multi30k has no task-2 descriptions for this split)"
            )
    if not bitext and not tasks:
        raise DataError(
            f"nothing to prepare for languages {', '.join(langs)} and splits {', '.join(splits)}; "
            "widen --langs/--splits"
        )
    summary.tasks = [
        TaskCount(t.task, t.lang, t.split, len(t.query_ids), len(t.doc_ids), len(t.qrels)) for t in tasks
    ]
    summary.inputs = dict(sorted(reader.inputs.items()))

    config.data = dataclasses.replace(
        config.data,
        source=multi30k.location if multi30k.kind == "local" else None,
        url=multi30k.location if multi30k.kind == "url" else None,
        prepared=str(out_path),
        langs=langs,
        splits=splits,
    )
    try:
        with atomic_dir(out_path, overwrite=overwrite) as tmp, quiet_datasets(progress):
            _write_all(tmp, bitext, tasks, progress)
            summary.seconds = time.perf_counter() - started
            write_json(tmp / "manifest.json", _manifest(summary))
            save_config(config, tmp)
    except FileExistsError:
        raise DataError(
            f"output {out_path} appeared while preparing; pass --overwrite or choose another --out"
        ) from None
    summary.seconds = time.perf_counter() - started
    return summary


def _write_all(
    folder: Path, bitext: dict[str, list[BitextSplit]], tasks: list[TaskData], progress: bool
) -> None:
    jobs = len(bitext) + len(tasks)
    with progress_bar(progress, jobs, "writing prepared data") as advance:
        for lang, parts in bitext.items():
            write_bitext(folder, lang, parts)
            advance()
        for task in tasks:
            write_task(folder, task)
            advance()


def _manifest(summary: PrepareSummary) -> dict[str, object]:
    bitext: dict[str, dict[str, int]] = {}
    for count in summary.bitext:
        bitext.setdefault(count.lang, {})[count.split] = count.pairs
    return {
        "format": MANIFEST_FORMAT,
        "clir_calib_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {"kind": summary.source_kind, "location": summary.source},
        "langs": summary.langs,
        "splits": summary.splits,
        "bitext": bitext,
        "tasks": [dataclasses.asdict(t) for t in summary.tasks],
        "notes": summary.notes,
        "inputs": summary.inputs,
        "seconds": round(summary.seconds, 3),
    }
