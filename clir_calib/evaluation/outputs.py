"""The files of an evaluate folder ``EVAL/``.

Per ``{task}/{lang}/{split}/``: ``run.trec`` with ``qrels.txt`` for exactly its queries, ``scored.npz`` (:class:`ScoredRun`, read by
``calibrate``), ``per_query.jsonl``, ``metrics.json`` (all metrics with bootstrap intervals, both
calibration views with bin tables), ``views.npz`` (each view's confidences and outcomes, used for
significance tests), ``bootstrap.npz`` (every statistic on every bootstrap resample) and reliability diagrams ``reliability_{view}_{binning}.png``. At the top:
``summary.json`` and the resolved ``config.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.atomic import atomic_file, write_json, write_npz
from clir_calib.errors import DataError
from clir_calib.evaluation.bootstrap import Interval
from clir_calib.evaluation.results import EntryResult
from clir_calib.metrics.retrieval import RETRIEVAL_METRICS
from clir_calib.report.plots import reliability_diagram
from clir_calib.retrieval.runs import write_trec_qrels, write_trec_run
from clir_calib.stored import read_jsonl, read_npz

SUMMARY_FILE = "summary.json"
BOOTSTRAP_FILE = "bootstrap.npz"
BINNINGS = ("equal_width", "equal_mass")


#: what an evaluate folder holds that later stages and the report read; part of ``run``'s evaluate stage key, so a
#: study reuses a folder only when those contents match (2: CB-ECE among the estimators, ``score_diagnostics``)
OUTPUTS_VERSION = 2
MTEB_FILE = "mteb_result.json"
#: MTEB's names for our retrieval metrics, and its language codes (ISO 639-3 with script)
MTEB_METRICS = {"nDCG@10": "ndcg_at_10", "AP": "map", "RR@10": "mrr_at_10", "R@1": "recall_at_1",
                "R@5": "recall_at_5", "R@10": "recall_at_10"}
MTEB_LANGUAGES = {"en": "eng-Latn", "de": "deu-Latn", "fr": "fra-Latn", "cs": "ces-Latn"}


def mteb_record(metrics: dict[str, Any], seconds: float | None = None) -> dict[str, Any]:
    """One entry's numbers as an MTEB result record (``task_name``, scores per split with ``hf_subset``,
    ``languages``, ``main_score`` = nDCG@10 as MTEB's retrieval tasks use), so they sit next to MTEB results; the
    calibration numbers are extra keys (``{view}_{metric}``)."""
    scores: dict[str, Any] = {MTEB_METRICS[name]: value["value"] for name, value in metrics["retrieval"].items()
                              if name in MTEB_METRICS}
    for view, data in metrics.get("calibration", {}).items():
        scores.update({f"{view}_{name}": value["value"] for name, value in data["metrics"].items()})
    lang = metrics["lang"]
    return {
        "task_name": f"clir-calib/{metrics['task']}", "dataset_revision": None, "mteb_version": None,
        "evaluation_time": seconds, "kg_co2_emissions": None, "system": metrics["system"],
        "scores": {metrics["split"]: [{"hf_subset": f"en-{lang}", "languages": ["eng-Latn",
                                                                               MTEB_LANGUAGES.get(lang, lang)],
                                       "main_score": scores.get("ndcg_at_10"), **scores}]},
    }

def entry_folder(root: Path, task: str, lang: str, split: str) -> Path:
    return root / task / lang / split


def _intervals(values: dict[str, Interval]) -> dict[str, dict[str, Any]]:
    return {name: interval.to_dict() for name, interval in values.items()}


def entry_metrics(entry: EntryResult, system: str) -> dict[str, Any]:
    """The ``metrics.json`` content of one entry."""
    calibration = {}
    for name, view in entry.views.items():
        full = view.report.to_dict(with_bins=True)
        calibration[name] = {
            "description": view.pairs.description,
            "metrics": _intervals(view.intervals),
            "n": full["n"], "accuracy": full["accuracy"], "mean_confidence": full["mean_confidence"],
            "bins": full["bins"],
            "equal_width_bins": full["equal_width_bins"], "equal_mass_bins": full["equal_mass_bins"],
            "ece_bin_sensitivity": view.bin_sensitivity,
            "risk_coverage": view.risk_coverage,
        }
    return {
        "system": system, "task": entry.task, "lang": entry.lang, "split": entry.split,
        "n_queries": len(entry.run.qids), "n_documents": entry.n_documents, "queries_skipped": entry.queries_skipped,
        "depth": entry.run.depth,
        "top1_unretrieved_share": float(np.mean(entry.run.labels.sum(axis=1) == 0)),
        "retrieval": _intervals(entry.retrieval),
        "calibration": calibration,
        "timing_s": {k: round(v, 3) for k, v in entry.timing.items()},
        **({"baseline": entry.baseline} if entry.baseline else {}),
        **({"score_diagnostics": entry.diagnostics} if entry.diagnostics else {}),
    }


#: evaluate.diagrams: which reliability diagrams each entry gets
DIAGRAMS = {"all": BINNINGS, "equal_width": ("equal_width",), "none": ()}


def bootstrap_samples(entry: EntryResult) -> dict[str, np.ndarray]:
    """Every statistic on every bootstrap resample, ``{group}__{metric}``: the resamples are the same
    query draws for every system evaluated with the same seed, so they pair up across systems."""
    arrays = {f"retrieval__{name}": interval.samples for name, interval in entry.retrieval.items()
              if interval.samples is not None}
    for view_name, view in entry.views.items():
        arrays.update({f"{view_name}__{name}": interval.samples for name, interval in view.intervals.items()
                       if interval.samples is not None})
    return {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}


def read_bootstrap(folder: Path, task: str, lang: str, split: str) -> dict[str, np.ndarray]:
    """The per-resample statistics of one entry (``bootstrap.npz``)."""
    path = entry_folder(Path(folder), task, lang, split) / BOOTSTRAP_FILE
    if not path.is_file():
        raise DataError(f"{path} is missing; re-run 'clir-calib evaluate --overwrite' for {folder}")
    return read_npz(path, f"re-run 'clir-calib evaluate --overwrite' for {folder}")


def write_entry(root: Path, entry: EntryResult, system: str, diagrams: str = "all") -> dict[str, Any]:
    """Write one entry's files under ``root`` and return its ``metrics.json`` content."""
    folder = entry_folder(root, entry.task, entry.lang, entry.split)
    folder.mkdir(parents=True, exist_ok=True)
    write_trec_run(folder / "run.trec", entry.run, system)
    write_trec_qrels(folder / "qrels.txt", entry.qrels, entry.run.qids)
    entry.run.save(folder / "scored.npz")
    with atomic_file(folder / "per_query.jsonl") as handle:
        for row, qid in enumerate(entry.run.qids):
            record: dict[str, Any] = {"qid": qid}
            record.update({name: float(entry.per_query[name][row]) for name in RETRIEVAL_METRICS})
            record["top1"] = entry.run.doc_ids[row][0]
            record["top1_score"] = float(entry.run.scores[row, 0])
            record["top1_relevant"] = int(entry.run.labels[row, 0])
            record["n_relevant"] = int(entry.run.n_relevant[row])
            handle.write(json.dumps(record) + "\n")
    arrays: dict[str, Any] = {}
    for name, view in entry.views.items():
        arrays[f"{name}__confidences"] = view.pairs.confidences
        arrays[f"{name}__correct"] = view.pairs.correct.astype(np.int8)
    write_npz(folder / "views.npz", arrays)
    write_npz(folder / BOOTSTRAP_FILE, bootstrap_samples(entry))
    metrics = entry_metrics(entry, system)
    write_json(folder / "metrics.json", metrics)
    write_json(folder / MTEB_FILE, mteb_record(metrics, sum(v for k, v in entry.timing.items() if k.endswith("_s"))))
    for name, view in entry.views.items():
        for binning in DIAGRAMS[diagrams]:
            title = f"{system}: {entry.task} {entry.lang} {entry.split}, {name} view"
            reliability_diagram(view.report, folder / f"reliability_{name}_{binning}.png", title=title,
                                binning=binning)  # type: ignore[arg-type]
    return metrics


def write_entry_job(job: tuple[Path, EntryResult, str, str]) -> dict[str, Any]:
    """:func:`write_entry` of ``(root, entry, system, diagrams)``: what a helper process runs (entries write
    separate folders, so they are written side by side)."""
    return write_entry(*job)


def read_entry_metrics(folder: Path, task: str, lang: str, split: str) -> dict[str, Any] | None:
    """One entry's ``metrics.json`` (None when the folder has no such entry), read once per file version."""
    from clir_calib.stored import read_json

    path = entry_folder(Path(folder), task, lang, split) / "metrics.json"
    if not path.is_file():
        return None
    data = read_json(path, f"re-run 'clir-calib evaluate --overwrite' for {folder}")
    if not isinstance(data, dict):
        raise DataError(f"{path} is not an entry's metrics; re-run 'clir-calib evaluate --overwrite' for {folder}")
    return data


def read_summary(folder: Path) -> dict[str, Any]:
    """The ``summary.json`` of an evaluate folder, with a one-line error when it is missing."""
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        raise DataError(f"{folder} is not an evaluate folder (no {SUMMARY_FILE}); run 'clir-calib evaluate' first")
    from clir_calib.stored import read_json

    data = read_json(path, "re-run 'clir-calib evaluate --overwrite'")
    if not isinstance(data, dict) or "entries" not in data:
        raise DataError(f"{path} is not an evaluate summary; re-run 'clir-calib evaluate --overwrite'")
    return data


def evaluation_inputs(folder: Path) -> list[Path]:
    """The parts of an evaluate folder that later commands read (its summary, config, and each folder holding
    scored runs), so an output may lie beside them (``EVAL/calibration-de-val``) but never replace them."""
    root = Path(folder)
    tasks = [p for p in sorted(root.iterdir()) if p.is_dir() and next(p.rglob("scored.npz"), None) is not None] \
        if root.is_dir() else []
    return [root / SUMMARY_FILE, root / "config.yaml", *tasks]


def read_per_query(folder: Path, task: str, lang: str, split: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Query ids and per-query retrieval metrics of one entry."""
    path = entry_folder(Path(folder), task, lang, split) / "per_query.jsonl"
    if not path.is_file():
        raise DataError(f"{path} is missing; re-run 'clir-calib evaluate --overwrite' for {folder}")
    fix = f"re-run 'clir-calib evaluate --overwrite' for {folder}"
    rows = read_jsonl(path, fix)
    try:
        return [str(r["qid"]) for r in rows], {m: np.array([r[m] for r in rows], dtype=np.float64)
                                              for m in RETRIEVAL_METRICS}
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path} is damaged (a record without its query id or metrics); {fix}") from None


def read_views(folder: Path, task: str, lang: str, split: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each calibration view's ``(confidences, correct)`` matrices of one entry."""
    path = entry_folder(Path(folder), task, lang, split) / "views.npz"
    if not path.is_file():
        raise DataError(f"{path} is missing; re-run 'clir-calib evaluate --overwrite' for {folder}")
    fix = f"re-run 'clir-calib evaluate --overwrite' for {folder}"
    data = read_npz(path, fix)
    names = sorted({key.split("__")[0] for key in data})
    try:
        views = {n: (data[f"{n}__confidences"], data[f"{n}__correct"].astype(np.int64)) for n in names}
    except (KeyError, ValueError, TypeError):
        raise DataError(f"{path} is damaged (a view without its confidences or outcomes); {fix}") from None
    if any(c.shape != o.shape or c.ndim != 2 for c, o in views.values()):
        raise DataError(f"{path} is damaged (confidences and outcomes of different shapes); {fix}")
    return views
