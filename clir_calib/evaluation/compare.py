"""Comparison tables across evaluate folders: systems x (language x metric), per task, split and group.

Groups are ``retrieval`` (MAP, MRR@10, nDCG@10, R@1/5/10) and one per calibration view (ECE with
equal-width and equal-mass bins, MCE, Brier, NLL). Every cell carries the bootstrap interval from
its evaluate folder; the best value per column is marked, and a paired randomization test against
a reference system marks differences significant at ``alpha`` (no multiple-comparison correction).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.atomic import write_json, write_text
from clir_calib.errors import ConfigError, DataError
from clir_calib.evaluation.outputs import read_per_query, read_summary, read_views
from clir_calib.evaluation.significance import paired_randomization_test
from clir_calib.metrics.retrieval import METRIC_LABELS, RETRIEVAL_METRICS

CALIBRATION_METRICS: tuple[str, ...] = ("ece_equal_width", "ece_equal_mass", "mce", "brier", "nll")
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


def calibration_p_values(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], bins: int,
                         permutations: int, seed: int) -> dict[str, float]:
    """Paired randomization test of ``metric(a) - metric(b)`` for the calibration metrics, all permutations in
    one pass: the two systems' pairs form one weighted set (query ``q`` of a, query ``Q + q`` of b), and a
    permutation that swaps query ``q`` moves its weight from one side to the other. The same draws and p-values
    as :func:`~clir_calib.evaluation.significance.paired_randomization_statistic` over swapped copies."""
    from clir_calib.evaluation.significance import TOLERANCE, _check_rounds
    from clir_calib.metrics.weighted import Pairs, weighted_metrics

    _check_rounds(permutations)
    (conf_a, hit_a), (conf_b, hit_b) = a, b
    n_queries, per_query = conf_a.shape
    query = np.repeat(np.arange(n_queries), per_query)
    pairs = Pairs(np.concatenate([conf_a.reshape(-1), conf_b.reshape(-1)]),
                  np.concatenate([hit_a.reshape(-1), hit_b.reshape(-1)]), queries=np.concatenate([query, query + n_queries]))
    rng = np.random.default_rng(seed)
    swap = np.vstack([np.zeros((1, n_queries), dtype=bool), rng.random((permutations, n_queries)) < 0.5])
    keep = (~swap).astype(np.float64)
    moved = swap.astype(np.float64)
    first = weighted_metrics(pairs, np.hstack([keep, moved]), bins, CALIBRATION_METRICS)
    second = weighted_metrics(pairs, np.hstack([moved, keep]), bins, CALIBRATION_METRICS)
    result = {}
    for name in CALIBRATION_METRICS:
        difference = first[name] - second[name]
        hits = int((np.abs(difference[1:]) >= abs(difference[0]) - TOLERANCE).sum())
        result[name] = (1 + hits) / (1 + permutations)
    return result


def _p_values(ref: _Loaded, other: _Loaded, key: tuple[str, str, str], group: str, permutations: int,
              seed: int, bins: int) -> dict[str, float]:
    task, lang, split = key
    ref_qids, ref_pq = read_per_query(ref.folder, task, lang, split)
    qids, pq = read_per_query(other.folder, task, lang, split)
    if qids != ref_qids:
        raise DataError(
            f"{other.folder} and {ref.folder} evaluated different queries for {task}/{lang}/{split}; "
            "evaluate both on the same prepared data"
        )
    if group == "retrieval":
        return {m: paired_randomization_test(pq[m], ref_pq[m], permutations, seed) for m in RETRIEVAL_METRICS}
    views_ref = read_views(ref.folder, task, lang, split)
    views = read_views(other.folder, task, lang, split)
    if group not in views_ref or group not in views or views_ref[group][0].shape != views[group][0].shape:
        return {}
    return calibration_p_values(views[group], views_ref[group], bins, permutations, seed)


def compare_runs(
    folders: list[Path], reference: str | None = None, permutations: int = 1000, alpha: float = 0.05,
    seed: int = 0, on_progress: Callable[[str], None] | None = None, splits: list[str] | None = None,
) -> list[ComparisonTable]:
    """Build every comparison table of the given evaluate folders (only ``splits``, when given)."""
    if not folders:
        raise ConfigError("give at least one evaluate folder to compare")
    loaded = _load([Path(f) for f in folders])
    names = [item.name for item in loaded]
    reference = reference or names[0]
    if reference not in names:
        raise ConfigError(f"reference system {reference!r} is not among the compared ones: {', '.join(names)}")
    ref = loaded[names.index(reference)]
    keys = sorted({k for item in loaded for k in item.entries if splits is None or k[2] in splits},
                  key=lambda k: (k[0], k[2], k[1]))
    tables: list[ComparisonTable] = []
    for task, split in dict.fromkeys((k[0], k[2]) for k in keys):
        langs = [k[1] for k in keys if k[0] == task and k[2] == split]
        groups = ["retrieval"] + sorted(
            {g for item in loaded for (t, lg, s), e in item.entries.items() if (t, s) == (task, split)
             for g in e.get("calibration", {})}, key=lambda g: (g != "listwise", g != "pointwise", g))
        for group in groups:
            metrics = list(RETRIEVAL_METRICS) if group == "retrieval" else list(CALIBRATION_METRICS)
            table = ComparisonTable(task, split, group, names, [(lg, m) for lg in langs for m in metrics],
                                    reference=reference)
            for item in loaded:
                for lang in langs:
                    entry = item.entries.get((task, lang, split))
                    if entry is None:
                        continue
                    values = _values(entry, group)
                    p_values: dict[str, float] = {}
                    if item is not ref and (task, lang, split) in ref.entries and values:
                        if on_progress:
                            on_progress(f"testing {item.name} vs {reference}: {task}/{lang}/{split} {group}")
                        p_values = _p_values(ref, item, (task, lang, split), group, permutations, seed,
                                             int(item.summary.get("bins", 15)))
                    for metric in metrics:
                        if metric not in values:
                            continue
                        v = values[metric]
                        p = p_values.get(metric)
                        table.cells[(item.name, lang, metric)] = Cell(
                            float(v["value"]), v.get("low"), v.get("high"), p, significant=p is not None and p < alpha
                        )
            _mark_best(table)
            tables.append(table)
    return tables


def format_cell(cell: Cell | None, digits: int = 3, bold: tuple[str, str] = ("**", "**"), mark: str = "†") -> str:
    """``0.712 [0.690, 0.731]`` with the best value in bold and ``†`` for significance."""
    if cell is None:
        return "–"
    text = f"{cell.value:.{digits}f}"
    if cell.best:
        text = f"{bold[0]}{text}{bold[1]}"
    if cell.significant:
        text += mark
    if cell.low is not None and cell.high is not None:
        text += f" [{cell.low:.{digits}f}, {cell.high:.{digits}f}]"
    return text


def header(lang: str, metric: str) -> str:
    arrow = "↓" if metric in LOWER_IS_BETTER else "↑"
    return f"{lang} {metric_label(metric)}{arrow}"


def tables_markdown(tables: list[ComparisonTable], alpha: float, permutations: int) -> str:
    """All tables as Markdown, with a legend."""
    lines = ["# System comparison", "",
             f"Cells: value [95% bootstrap interval over queries]. **Bold**: best in the column. "
             f"†: differs from the reference system at p < {alpha:g} (paired randomization test, "
             f"{permutations} permutations, no multiple-comparison correction). ↑ higher is better, ↓ lower.", ""]
    for table in tables:
        lines += [f"## {table.task} · {table.split} · {table.group}", "",
                  f"Reference: {table.reference}", "",
                  "| System | " + " | ".join(header(lg, m) for lg, m in table.columns) + " |",
                  "|---|" + "---|" * len(table.columns)]
        for system in table.systems:
            cells = [format_cell(table.cell(system, lg, m)) for lg, m in table.columns]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def tables_latex(tables: list[ComparisonTable], alpha: float, permutations: int, intervals: bool) -> str:
    """All tables as one LaTeX document (booktabs; bold best; dagger: significant against the reference)."""
    from clir_calib.report.latex import latex_document, latex_table

    body = []
    for table in tables:
        headers = ["System", *[header(lg, m) for lg, m in table.columns]]
        rows = [[system, *[format_cell(table.cell(system, lg, m)) for lg, m in table.columns]]
                for system in table.systems]
        caption = (f"{table.task} · {table.split} · {table.group}. Bold: best in the column; †: differs from "
                   f"{table.reference} at p < {alpha:g} (paired randomization test, {permutations} permutations)"
                   + ("; [95% bootstrap interval over queries]" if intervals else ""))
        body.append(latex_table(headers, rows, caption, label=f"tab:{table.task}-{table.split}-{table.group}",
                                intervals=intervals))
    return latex_document("\n".join(body))


def tables_csv(tables: list[ComparisonTable]) -> str:
    """One row per (table, system, language, metric): every number, machine-readable."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "split", "group", "system", "lang", "metric", "value", "low", "high",
                     "p_value", "best", "significant", "reference"])
    for table in tables:
        for system in table.systems:
            for lang, metric in table.columns:
                c = table.cell(system, lang, metric)
                if c is None:
                    continue
                writer.writerow([table.task, table.split, table.group, system, lang, metric_label(metric),
                                 c.value, c.low, c.high, c.p_value, int(c.best), int(c.significant), table.reference])
    return buffer.getvalue()


def tables_json(tables: list[ComparisonTable], folders: list[Path], alpha: float, permutations: int) -> dict[str, Any]:
    return {
        "folders": [str(f) for f in folders], "alpha": alpha, "permutations": permutations,
        "tables": [
            {"task": t.task, "split": t.split, "group": t.group, "reference": t.reference, "systems": t.systems,
             "columns": [{"lang": lg, "metric": m, "label": metric_label(m)} for lg, m in t.columns],
             "cells": [{"system": s, "lang": lg, "metric": m, **vars(c)} for (s, lg, m), c in t.cells.items()]}
            for t in tables
        ],
    }


def write_comparison(tables: list[ComparisonTable], out: Path, folders: list[Path], alpha: float,
                     permutations: int) -> dict[str, Path]:
    """Write ``comparison.md``, ``.tex`` (booktabs; ``comparison_compact.tex`` without intervals), ``.csv``, ``.json``."""
    out = Path(out)
    paths = {"markdown": out / "comparison.md", "csv": out / "comparison.csv", "json": out / "comparison.json",
             "latex": out / "comparison.tex", "latex_compact": out / "comparison_compact.tex"}
    write_text(paths["markdown"], tables_markdown(tables, alpha, permutations))
    write_text(paths["latex"], tables_latex(tables, alpha, permutations, intervals=True))
    write_text(paths["latex_compact"], tables_latex(tables, alpha, permutations, intervals=False))
    write_text(paths["csv"], tables_csv(tables))
    write_json(paths["json"], tables_json(tables, folders, alpha, permutations))
    return paths
