"""Comparison tables written out: Markdown, booktabs LaTeX, CSV and JSON, from one set of rows.

Each table shows the systems (value and bootstrap interval, best in bold), then one ``system − reference`` row
per other system: the paired difference, its interval and ``†`` where its test rejects.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from clir_calib.atomic import write_json, write_text
from clir_calib.evaluation.compare import LOWER_IS_BETTER, Cell, ComparisonTable, metric_label


def format_cell(cell: Cell | None, digits: int = 3, bold: tuple[str, str] = ("**", "**")) -> str:
    """``0.712 [0.690, 0.731]`` with the best value in bold."""
    if cell is None:
        return "–"
    text = f"{cell.value:.{digits}f}"
    if cell.best:
        text = f"{bold[0]}{text}{bold[1]}"
    if cell.low is not None and cell.high is not None:
        text += f" [{cell.low:.{digits}f}, {cell.high:.{digits}f}]"
    return text


def signed(value: float, digits: int = 3) -> str:
    """``+0.012``; a difference too small for ``digits`` decimals keeps two significant digits (``-4.2e-04``),
    so a significant difference never reads as ``+0.000``."""
    if value != 0 and abs(value) < 0.5 * 10 ** -digits:
        return f"{value:+.1e}"
    return f"{value:+.{digits}f}"


def format_difference(cell: Cell | None, digits: int = 3, mark: str = "†") -> str:
    """``-0.012 [-0.020, -0.004]†``: the paired difference from the reference, ``†`` where its test rejects."""
    if cell is None or cell.difference is None:
        return "–"
    text = signed(cell.difference, digits) + (mark if cell.significant else "")
    if cell.diff_low is not None and cell.diff_high is not None:
        text += f" [{signed(cell.diff_low, digits)}, {signed(cell.diff_high, digits)}]"
    return text


def table_rows(table: ComparisonTable, bold: tuple[str, str] = ("**", "**")) -> list[list[str]]:
    """The systems' rows, then one ``system − reference`` row per other system: every rendering's rows."""
    rows = [[system, *[format_cell(table.cell(system, lg, m), bold=bold) for lg, m in table.columns]]
            for system in table.systems]
    rows += [[f"{system} − {table.reference}", *[format_difference(table.cell(system, lg, m)) for lg, m in table.columns]]
             for system in table.systems if system != table.reference]
    return rows


def header(lang: str, metric: str) -> str:
    arrow = "↓" if metric in LOWER_IS_BETTER else "↑"
    return f"{lang} {metric_label(metric)}{arrow}"


def tables_markdown(tables: list[ComparisonTable], alpha: float, permutations: int) -> str:
    """All tables as Markdown, with a legend."""
    lines = ["# System comparison", "",
             f"Cells: value [95% bootstrap interval over queries]. **Bold**: best in the column. "
             f"Rows `A − ref`: the paired difference from the reference system [95% paired bootstrap interval]; "
             f"†: the difference is significant at p < {alpha:g} (paired randomization test, "
             f"{permutations} permutations, no multiple-comparison correction). ↑ higher is better, ↓ lower.", ""]
    for table in tables:
        lines += [f"## {table.task} · {table.split} · {table.group}", "",
                  f"Reference: {table.reference}", "",
                  "| System | " + " | ".join(header(lg, m) for lg, m in table.columns) + " |",
                  "|---|" + "---|" * len(table.columns)]
        lines += ["| " + " | ".join(row) + " |" for row in table_rows(table)]
        lines.append("")
    return "\n".join(lines)


def tables_latex(tables: list[ComparisonTable], alpha: float, permutations: int, intervals: bool) -> str:
    """All tables as one LaTeX document (booktabs; bold best; dagger: significant against the reference)."""
    from clir_calib.report.latex import latex_document, latex_table

    body = []
    for table in tables:
        headers = ["System", *[header(lg, m) for lg, m in table.columns]]
        rows = table_rows(table)
        caption = (f"{table.task} · {table.split} · {table.group}. Bold: best in the column; rows A − "
                   f"{table.reference}: paired difference; †: significant at p < {alpha:g} (paired randomization "
                   f"test, {permutations} permutations)"
                   + ("; [95% bootstrap interval over queries]" if intervals else ""))
        body.append(latex_table(headers, rows, caption, label=f"tab:{table.task}-{table.split}-{table.group}",
                                intervals=intervals))
    return latex_document("\n".join(body))


def tables_csv(tables: list[ComparisonTable]) -> str:
    """One row per (table, system, language, metric): every number, machine-readable."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "split", "group", "system", "lang", "metric", "value", "low", "high",
                     "p_value", "best", "significant", "reference", "difference", "diff_low", "diff_high"])
    for table in tables:
        for system in table.systems:
            for lang, metric in table.columns:
                c = table.cell(system, lang, metric)
                if c is None:
                    continue
                writer.writerow([table.task, table.split, table.group, system, lang, metric_label(metric),
                                 c.value, c.low, c.high, c.p_value, int(c.best), int(c.significant), table.reference,
                                 c.difference, c.diff_low, c.diff_high])
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
