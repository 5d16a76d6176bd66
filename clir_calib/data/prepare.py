"""``prepare_data``: a registered dataset (Multi30k, a folder collection) -> the prepared folder every
other command reads.

Everything is read and checked first by the dataset (line alignment, empty lines, gzip, task-1/task-2
image order; ids and qrels of folder collections), then written into a temporary sibling folder that is renamed to ``out`` only when
complete, so a failure never leaves a half-written output behind.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clir_calib import __version__
from clir_calib.atomic import atomic_dir, write_json
from clir_calib.claims import claims_output, config_inputs
from clir_calib.config import ExperimentConfig, check_languages, check_splits, save_config
from clir_calib.data.checks import checked_content
from clir_calib.data.datasets import BitextSplit, DatasetRequest, TaskData
from clir_calib.data.writer import quiet_datasets, write_bitext, write_task
from clir_calib.errors import DataError
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
    """What ``prepare_data`` wrote: counts per split/language/task, skipped combinations, inputs."""

    out: Path
    source_kind: str
    source: str
    langs: list[str]
    splits: list[str]
    dataset: str = "multi30k"
    params: dict[str, Any] = field(default_factory=dict)
    bitext: list[BitextCount] = field(default_factory=list)
    tasks: list[TaskCount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    seconds: float = 0.0


def prepare_inputs(config: ExperimentConfig | None = None, source: Any = None, cache_dir: Any = None,
                   **_: Any) -> list[Any]:
    """What ``prepare`` reads: its source (the default one when none is given), the download cache, and
    every input path its config names except ``data.prepared``, which it writes."""
    from clir_calib.config import default_multi30k_source

    config = config or ExperimentConfig()
    given = source or config.data.source or (None if config.data.url else default_multi30k_source())
    return [given, cache_dir, *config_inputs(config, outputs=["data.prepared"])]


@claims_output("out", inputs=lambda arguments: prepare_inputs(**arguments))
def prepare_data(
    out: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    params: dict[str, Any] | None = None,
    source: str | os.PathLike[str] | None = None,
    url: str | None = None,
    langs: list[str] | None = None,
    splits: list[str] | None = None,
    overwrite: bool = False,
    config: ExperimentConfig | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> PrepareSummary:
    """Prepare bitext and retrieval tasks of the chosen languages and splits from a registered dataset.

    ``dataset`` (default ``config.data.dataset``, ``multi30k``) reads ``source`` (a folder) or ``url``
    (downloaded once into ``cache_dir``); unset arguments come from ``config.data``. Everything is read and
    checked before anything is written. Returns the counts written.
    """
    from clir_calib.plugins import DATASETS

    started = time.perf_counter()
    config = dataclasses.replace(config) if config is not None else ExperimentConfig()
    name = dataset or config.data.dataset
    chosen = DATASETS.get(name)(**dict(params if params is not None else config.data.params))
    langs = list(dict.fromkeys(check_languages(list(langs if langs is not None else config.data.langs))))
    splits = list(dict.fromkeys(check_splits(list(splits if splits is not None else config.data.splits))))
    if not langs or not splits:
        raise DataError("no languages or no splits selected; give --langs and --splits (or data.langs, data.splits)")
    out_path = Path(out)
    if source is None and url is None:
        source, url = config.data.source, config.data.url
    content = checked_content(chosen.build(DatasetRequest(source, url, langs, splits, cache_dir, config.data.checksums)))
    if not content.bitext and not content.tasks:
        raise DataError(
            f"nothing to prepare for languages {', '.join(langs)} and splits {', '.join(splits)}; "
            "widen --langs/--splits"
        )
    summary = PrepareSummary(out_path, content.kind, content.location, content.langs, content.splits, name,
                             chosen.get_config_dict())
    for lang, parts in content.bitext.items():
        summary.bitext.extend(BitextCount(lang, p.split, len(p.ids)) for p in parts)
    summary.tasks = [
        TaskCount(t.task, t.lang, t.split, len(t.query_ids), len(t.doc_ids), len(t.qrels)) for t in content.tasks
    ]
    summary.notes = list(content.notes)
    summary.inputs = dict(content.inputs)

    config.data = dataclasses.replace(
        config.data,
        dataset=name,
        params=chosen.get_config_dict(),
        source=content.location if content.kind == "local" else None,
        url=content.location if content.kind == "url" else None,
        prepared=str(out_path),
        langs=content.langs,
        splits=content.splits,
    )
    try:
        with atomic_dir(out_path, overwrite=overwrite) as tmp, quiet_datasets(progress):
            _write_all(tmp, content.bitext, content.tasks, progress)
            summary.seconds = time.perf_counter() - started
            write_json(tmp / "manifest.json", _manifest(summary))
            save_config(config, tmp)
    except FileExistsError:
        raise DataError(
            f"output {out_path} appeared while preparing; pass --overwrite or choose another --out"
        ) from None
    summary.seconds = time.perf_counter() - started
    return summary


def prepare_multi30k(out: str | os.PathLike[str], **options: Any) -> PrepareSummary:
    """:func:`prepare_data` with the ``multi30k`` dataset (the study's data)."""
    return prepare_data(out, dataset="multi30k", **options)


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
        "dataset": {"name": summary.dataset, "params": summary.params},
        "source": {"kind": summary.source_kind, "location": summary.source},
        "langs": summary.langs,
        "splits": summary.splits,
        "bitext": bitext,
        "tasks": [dataclasses.asdict(t) for t in summary.tasks],
        "notes": summary.notes,
        "inputs": summary.inputs,
        "seconds": round(summary.seconds, 3),
    }
