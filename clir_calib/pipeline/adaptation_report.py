"""The study report's label-free transfer section: each adapter and bound against the zero-shot calibrator.

Per method, view and unseen language: ECE after the seen-language calibrator with no adaptation, after
each label-free adapter, and the oracle / few-shot bounds, with the share of the gap each one closes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.adapters.identity import NoAdapter
from clir_calib.config.sections import FEWSHOT_BOUND, ORACLE_BOUND, ExperimentConfig
from clir_calib.pipeline.seed_report import (
    LANG_COLOURS,
    VIEWS,
    figure_axes,
    headline_systems,
    target_split,
)
from clir_calib.pipeline.seed_stats import SeedValues, SystemRuns
from clir_calib.report import Report


def _adaptation_rows(system: SystemRuns) -> list[list[dict[str, Any]]]:
    """Per seed, the adaptation rows of its ``calibration.json``."""
    from clir_calib.transfer.outputs import read_calibration

    return [read_calibration(run.calibration_dir).get("adaptation", []) for run in system.runs
            if run.calibration_dir is not None and (run.calibration_dir / "calibration.json").is_file()]


def adaptation_values(system: SystemRuns, task: str, lang: str, split: str, calibrator: str, method: str,
                      metric: str = "ece_equal_width") -> SeedValues:
    values = []
    for rows in _adaptation_rows(system):
        for row in rows:
            if (row["task"], row["lang"], row["split"], row["calibrator"], row["method"]) == (
                    task, lang, split, calibrator, method):
                values.append(float(row["metrics"][metric]))
    return SeedValues(values)


#: the adapter that leaves the calibrator unchanged: the zero-shot row every adapter is measured against
UNADAPTED = NoAdapter.name
#: a none-to-oracle gap below this (ECE points) has nothing to close: no share is given
MIN_GAP = 0.005


def gap_closed(system: SystemRuns, task: str, lang: str, split: str, calibrator: str, method: str) -> SeedValues:
    """Per seed, ``(ECE_none - ECE_method) / (ECE_none - ECE_oracle)``: 1 closes the whole gap to the oracle."""
    none = adaptation_values(system, task, lang, split, calibrator, UNADAPTED).values
    mine = adaptation_values(system, task, lang, split, calibrator, method).values
    oracle = adaptation_values(system, task, lang, split, calibrator, ORACLE_BOUND).values
    shares = [(n - m) / (n - o) for n, m, o in zip(none, mine, oracle, strict=False) if n - o >= MIN_GAP]
    return SeedValues(shares)


def adaptation_section(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig, folder: Path,
                       terminal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label-free adapters against no adaptation, the few-shot bounds and the oracle, per view and language."""
    from clir_calib.report.plots import save_png

    shown = headline_systems(systems)
    if not any(rows for s in shown for rows in _adaptation_rows(s)):
        return []
    task = next((t for t in (cfg.calibrate.adapt_tasks or cfg.evaluate.tasks)), cfg.evaluate.tasks[0])
    split = target_split(cfg)
    fit = cfg.calibrate.fit_lang
    unseen = [lang for lang in cfg.calibrate.target_langs if lang != fit]
    methods = [m for m in (UNADAPTED, *[a for a in cfg.calibrate.adapters if a != UNADAPTED])
               if m in cfg.calibrate.adapters]
    bounds = ([f"fewshot-{k}" for k in cfg.calibrate.fewshot_sizes] if "fewshot" in cfg.calibrate.bounds else []) + (
        [ORACLE_BOUND] if ORACLE_BOUND in cfg.calibrate.bounds else [])
    report.heading("Calibrating a language nobody labelled: label-free transfer")
    report.paragraph(
        f"ECE-w on {split} after the calibrator fitted on {fit}/{cfg.calibrate.fit_split}, with each label-free "
        "adapter (which sees the target language's scores, never its labels), next to bounds that use target labels: "
        f"fewshot-K (K labelled target {cfg.calibrate.fit_split} queries, mean over {cfg.calibrate.fewshot_draws} "
        f"draws) and oracle (the calibrator fitted on the target's own {cfg.calibrate.fit_split}). Mean ± sd over "
        f"seeds. *closed*: share of the none-to-oracle gap an adapter closes (1 = all of it; – when that gap is "
        f"below {MIN_GAP} or the oracle is worse than none)."
    )
    records: list[dict[str, Any]] = []
    for view in VIEWS:
        calibrators = [c for c in cfg.calibrate.calibrators if c != "identity" and any(
            r["calibrator"] == c and r["view"] == view for s in shown for rows in _adaptation_rows(s) for r in rows)]
        for lang in unseen:
            headers = ["system", "calibrator", *methods, *bounds, *[f"closed {m}" for m in methods if m != UNADAPTED]]
            rows_out = []
            for system in shown:
                for calibrator in calibrators:
                    cells = [adaptation_values(system, task, lang, split, calibrator, m).text(4) for m in [*methods, *bounds]]
                    if all(c == "–" for c in cells):
                        continue
                    closed = [gap_closed(system, task, lang, split, calibrator, m).text(2) for m in methods if m != UNADAPTED]
                    rows_out.append([system.name, calibrator, *cells, *closed])
                    for m in [*methods, *bounds]:
                        value = adaptation_values(system, task, lang, split, calibrator, m)
                        if value.values:
                            records.append({"system": system.name, "calibrator": calibrator, "view": view, "lang": lang,
                                            "split": split, "method": m, "ece_mean": value.mean, "ece_sd": value.sd,
                                            "per_seed": value.values})
            if rows_out:
                caption = f"label-free transfer · {task} · {split} · {view} view · {lang} (unseen)"
                report.table(headers, rows_out, caption=caption)
                terminal.append({"caption": caption, "headers": headers, "rows": rows_out})
    shown_methods = [*methods, *[b for b in bounds if b in (f"{FEWSHOT_BOUND}-50", ORACLE_BOUND)]]
    if len(shown_methods) > 1:
        figure, axes = figure_axes(4.6 * len(VIEWS), 3.8, len(VIEWS))
        for ax, view in zip(axes, VIEWS, strict=True):
            calibrator = cfg.report.headline_calibrators[view]
            groups = [(system, lang) for system in shown for lang in unseen]
            present = [m for m in shown_methods if any(
                adaptation_values(system, task, lang, split, calibrator, m).values for system, lang in groups)]
            width = 0.8 / max(1, len(present))
            heights = [adaptation_values(system, task, lang, split, calibrator, m).mean
                       for m in present for system, lang in groups]
            finite = [h for h in heights if np.isfinite(h)]
            # a method that fails by an order of magnitude would flatten the others: clip it and print its value
            top = min(max(finite, default=1.0), 4 * float(np.median(finite)) if finite else 1.0) * 1.25
            for j, method in enumerate(present):
                values = [adaptation_values(system, task, lang, split, calibrator, method) for system, lang in groups]
                xs = np.arange(len(groups)) - 0.4 + width * (j + 0.5)
                means = [v.mean if v.values else 0.0 for v in values]
                ax.bar(xs, [min(height, top) for height in means], width=width, yerr=[v.sd if v.mean <= top else 0 for v in values],
                       capsize=2, color=LANG_COLOURS[shown_methods.index(method) % len(LANG_COLOURS)], label=method,
                       hatch="//" if method in (ORACLE_BOUND, f"{FEWSHOT_BOUND}-50") else None)
                for x, height in zip(xs, means, strict=True):
                    if height > top:
                        ax.text(x, top * 0.98, f"{height:.2f}", rotation=90, ha="center", va="top", fontsize=6)
            ax.set_ylim(0, top)
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels([f"{s.name}\n{lang}" for s, lang in groups], fontsize=7)
            ax.set_ylabel("ECE-w on the unseen language")
            ax.set_title(f"{view}: {calibrator} fitted on {fit}", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
            if present:  # a panel with no method measured has nothing to label
                ax.legend(fontsize=7)
        figure.subplots_adjust(wspace=0.3)
        path = folder / "gap_closed.png"
        save_png(figure, path, bbox="tight", vector=True)
        report.images([path], [f"{task} · {split}: ECE after no adaptation, each label-free adapter and the labelled "
                               "bounds (hatched), per unseen language and method (mean ± sd over seeds)"], columns=1)
    return records
