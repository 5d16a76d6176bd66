"""Comparison tables across evaluate folders: systems x (language x metric), per task, split and group.

Groups are ``retrieval`` (MAP, MRR@10, nDCG@10, R@1/5/10) and one per calibration view (ECE with
equal-width and equal-mass bins, MCE, Brier, NLL). Every cell carries the bootstrap interval from
its evaluate folder; the best value per column is marked. Each other system gets a difference row
(``system - reference``, with a paired bootstrap interval over the same resampled queries), marked † where a
paired randomization test rejects at ``alpha`` (no multiple-comparison correction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clir_calib.errors import ConfigError, DataError
from clir_calib.evaluation.differences import (
    CALIBRATION_METRICS,
    Difference,
    calibration_differences,
    calibration_p_values,
    mean_differences,
)
from clir_calib.evaluation.outputs import read_per_query, read_summary, read_views
from clir_calib.evaluation.significance import paired_randomization_test
from clir_calib.metrics.retrieval import METRIC_LABELS, RETRIEVAL_METRICS
from clir_calib.shared_work import share_work

__all__ = ["CALIBRATION_METRICS", "Cell", "ComparisonTable", "calibration_p_values", "compare_runs"]

CALIBRATION_LABELS = {"ece_equal_width": "ECE-w", "ece_equal_mass": "ECE-m", "mce": "MCE", "brier": "Brier", "nll": "NLL"}
LOWER_IS_BETTER = frozenset(CALIBRATION_METRICS)


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, CALIBRATION_LABELS.get(metric, metric))


@dataclass
class Cell:
    """One system's value for one (language, metric), with interval and test result."""

    value: float
    low: float | None
    high: float | None
    p_value: float | None = None  # against the reference system; None for the reference itself
    best: bool = False
    significant: bool = False
    difference: float | None = None  # this system minus the reference (paired); None for the reference
    diff_low: float | None = None
    diff_high: float | None = None


@dataclass
class ComparisonTable:
    """One table: rows are systems, columns (language, metric)."""

    task: str
    split: str
    group: str
    systems: list[str]
    columns: list[tuple[str, str]]
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)  # (system, lang, metric)
    reference: str = ""

    def cell(self, system: str, lang: str, metric: str) -> Cell | None:
        return self.cells.get((system, lang, metric))


@dataclass
class _Loaded:
    name: str
    folder: Path
    summary: dict[str, Any]
    entries: dict[tuple[str, str, str], dict[str, Any]]


def _load(folders: list[Path]) -> list[_Loaded]:
    loaded: list[_Loaded] = []
    seen: set[str] = set()
    for folder in folders:
        summary = read_summary(folder)
        name = str(summary.get("system", {}).get("name") or Path(folder).name)
        if name in seen:
            name = f"{name} ({Path(folder).name})"
        if name in seen:
            raise DataError(f"two evaluate folders are both called {name!r}; pass each folder once")
        seen.add(name)
        entries = {(e["task"], e["lang"], e["split"]): e for e in summary["entries"]}
        loaded.append(_Loaded(name, Path(folder), summary, entries))
    return loaded


def _values(entry: dict[str, Any], group: str) -> dict[str, dict[str, Any]]:
    if group == "retrieval":
        return entry["retrieval"]
    return entry.get("calibration", {}).get(group, {}).get("metrics", {})


def _mark_best(table: ComparisonTable) -> None:
    for lang, metric in table.columns:
        present = [(s, c) for s in table.systems if (c := table.cell(s, lang, metric)) is not None]
        if len(present) < 2:
            continue
        pick = min if metric in LOWER_IS_BETTER else max
        best = pick(c.value for _, c in present)
        for _, c in present:
            c.best = abs(c.value - best) <= 1e-12


def tests_job(job: tuple[Path, Path, tuple[str, str, str], str, int, int, int, int]
              ) -> tuple[dict[str, float], dict[str, Difference]]:
    """p-values and paired differences (``other - ref``) of every metric of ``group`` on one entry, for
    ``(ref_folder, other_folder, (task, lang, split), group, permutations, seed, bins, resamples)`` (a
    module-level function: helper processes run it)."""
    ref_folder, other_folder, (task, lang, split), group, permutations, seed, bins, resamples = job
    ref_qids, ref_pq = read_per_query(ref_folder, task, lang, split)
    qids, pq = read_per_query(other_folder, task, lang, split)
    if qids != ref_qids:
        raise DataError(
            f"{other_folder} and {ref_folder} evaluated different queries for {task}/{lang}/{split}; "
            "evaluate both on the same prepared data"
        )
    if group == "retrieval":
        return ({m: paired_randomization_test(pq[m], ref_pq[m], permutations, seed) for m in RETRIEVAL_METRICS},
                mean_differences(pq, ref_pq, RETRIEVAL_METRICS, resamples, seed))
    views_ref = read_views(ref_folder, task, lang, split)
    views = read_views(other_folder, task, lang, split)
    if group not in views_ref or group not in views or views_ref[group][0].shape != views[group][0].shape:
        return {}, {}
    return (calibration_p_values(views[group], views_ref[group], bins, permutations, seed),
            calibration_differences(views[group], views_ref[group], bins, resamples, seed))


def compare_runs(
    folders: list[Path], reference: str | None = None, permutations: int = 1000, alpha: float = 0.05,
    seed: int = 0, on_progress: Callable[[str], None] | None = None, splits: list[str] | None = None,
    resamples: int = 1000,
) -> list[ComparisonTable]:
    """Build every comparison table of the given evaluate folders (only ``splits``, when given); ``resamples``:
    the paired bootstrap draws of each difference's interval (``evaluate.bootstrap``)."""
    if not folders:
        raise ConfigError("give at least one evaluate folder to compare")
    loaded = _load([Path(f) for f in folders])
    names = [item.name for item in loaded]
    reference = reference or names[0]
    if reference not in names:
        raise ConfigError(f"reference system {reference!r} is not among the compared ones: {', '.join(names)}")
    ref = loaded[names.index(reference)]
    order = list(dict.fromkeys(k for item in loaded for k in item.entries))  # evaluate's order: its languages' order
    first: dict[tuple[int, str], int] = {}
    for index, key in enumerate(order):
        for position, part in enumerate(key):
            first.setdefault((position, part), index)
    keys = sorted((k for k in order if splits is None or k[2] in splits),
                  key=lambda k: (first[(0, k[0])], first[(2, k[2])], first[(1, k[1])]))
    tables: list[ComparisonTable] = []
    jobs: list[tuple[Path, Path, tuple[str, str, str], str, int, int, int, int]] = []
    cells: list[tuple[ComparisonTable, str, str, list[str], dict[str, Any], int | None]] = []
    for task, split in dict.fromkeys((k[0], k[2]) for k in keys):
        langs = [k[1] for k in keys if k[0] == task and k[2] == split]
        groups = ["retrieval"] + sorted(
            {g for item in loaded for (t, lg, s), e in item.entries.items() if (t, s) == (task, split)
             for g in e.get("calibration", {})}, key=lambda g: (g != "listwise", g != "pointwise", g))
        for group in groups:
            metrics = list(RETRIEVAL_METRICS) if group == "retrieval" else list(CALIBRATION_METRICS)
            table = ComparisonTable(task, split, group, names, [(lg, m) for lg in langs for m in metrics],
                                    reference=reference)
            tables.append(table)
            for item in loaded:
                for lang in langs:
                    entry = item.entries.get((task, lang, split))
                    if entry is None:
                        continue
                    values = _values(entry, group)
                    job = None
                    if item is not ref and (task, lang, split) in ref.entries and values:
                        job = len(jobs)
                        jobs.append((ref.folder, item.folder, (task, lang, split), group, permutations, seed,
                                     int(item.summary.get("bins", 15)), resamples))
                    cells.append((table, item.name, lang, metrics, values, job))
    if on_progress and jobs:
        on_progress(f"testing {len(jobs)} (system, entry, view)s against {reference} (paired tests, every core)")
    tested = share_work(tests_job, jobs)  # independent, numpy only: on every core (clir_calib.shared_work)
    for table, name, lang, metrics, values, job in cells:
        p_values, differences = tested[job] if job is not None else ({}, {})
        for metric in metrics:
            if metric not in values:
                continue
            v = values[metric]
            p = p_values.get(metric)
            d = differences.get(metric)
            table.cells[(name, lang, metric)] = Cell(
                float(v["value"]), v.get("low"), v.get("high"), p, significant=p is not None and p < alpha,
                difference=None if d is None else d.value, diff_low=None if d is None else d.low,
                diff_high=None if d is None else d.high)
    for table in tables:
        _mark_best(table)
    return tables
