"""The study report's seed-aware sections: the answer figure, mean ± sd tables, tests, curves.

Every number is the mean over a system's seeds with its sd; significance is the two-level
bootstrap of :mod:`clir_calib.pipeline.seed_stats`. Calibration tables are split by view, so a
listwise calibrator is compared with the raw listwise scores and a pointwise one with the raw
pointwise scores (they measure different events: top-1 correctness of a query vs relevance of a pair).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.config import ExperimentConfig
from clir_calib.pipeline.seed_stats import SeedValues, SystemRuns, seed_values, two_level_difference
from clir_calib.report import Report

VIEWS = ("listwise", "pointwise")
HEADLINE_CALIBRATOR = {"listwise": "temperature", "pointwise": "platt"}
LANG_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")


def target_split(cfg: ExperimentConfig) -> str:
    splits = [s for s in cfg.calibrate.target_splits if s in cfg.evaluate.splits]
    return splits[0] if splits else cfg.evaluate.splits[-1]


def headline_systems(systems: list[SystemRuns]) -> list[SystemRuns]:
    """One entry per method: distilled ones at their largest data size."""
    chosen: dict[str, SystemRuns] = {}
    for system in systems:
        best = chosen.get(system.name)
        if best is None or (system.pairs or 10**9) > (best.pairs or 10**9):
            chosen[system.name] = system
    return list(chosen.values())


def _calibration_rows(system: SystemRuns) -> list[list[dict[str, Any]]]:
    """Per seed, the rows of its ``calibration.json``."""
    found = []
    for run in system.runs:
        path = run.calibration_dir / "calibration.json" if run.calibration_dir else None
        if path is not None and path.is_file():
            found.append(json.loads(path.read_text(encoding="utf-8"))["rows"])
    return found


def calibrated_values(system: SystemRuns, task: str, lang: str, split: str, calibrator: str,
                      metric: str, when: str) -> SeedValues:
    """Per seed, ``{metric}_{when}`` (when: before | after) of one calibrator's transfer row."""
    values = []
    for rows in _calibration_rows(system):
        for row in rows:
            if (row["task"], row["lang"], row["split"], row["calibrator"]) == (task, lang, split, calibrator):
                value = row.get(f"{metric}_{when}")
                if value is not None:
                    values.append(float(value))
    return SeedValues(values)


def figure_axes(width: float, height: float, columns: int) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, columns, squeeze=False)[0]
    return figure, axes


def answer_figure(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig, folder: Path) -> None:
    """Per language and method: ECE of the raw scores and after the calibrator fitted on the seen language."""
    from clir_calib.report.plots import save_png

    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    langs = cfg.calibrate.target_langs
    shown = headline_systems(systems)
    figure, axes = figure_axes(4.2 * len(VIEWS), 3.8, len(VIEWS))
    for ax, view in zip(axes, VIEWS, strict=True):
        calibrator = HEADLINE_CALIBRATOR[view]
        width = 0.8 / max(1, len(shown))
        for i, system in enumerate(shown):
            raw = [calibrated_values(system, task, lang, split, calibrator, "ece_equal_width", "before") for lang in langs]
            after = [calibrated_values(system, task, lang, split, calibrator, "ece_equal_width", "after") for lang in langs]
            xs = np.arange(len(langs)) - 0.4 + width * (i + 0.5)
            colour = LANG_COLOURS[i % len(LANG_COLOURS)]
            ax.bar(xs, [v.mean for v in raw], width=width, yerr=[v.sd for v in raw], color=colour, alpha=0.35,
                   edgecolor=colour, capsize=2, label=f"{system.name} raw")
            ax.errorbar(xs, [v.mean for v in after], yerr=[v.sd for v in after], fmt="o", color=colour, capsize=3,
                        label=f"{system.name} + {calibrator}")
        labels = [f"{lang}{' (seen)' if lang == cfg.calibrate.fit_lang else ''}" for lang in langs]
        ax.set_xticks(range(len(langs)))
        ax.set_xticklabels(labels)
        ax.set_ylabel("ECE (equal-width bins)")
        ax.set_title(f"{view}: raw (bars), {calibrator} fit on {cfg.calibrate.fit_lang} (dots)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    path = folder / "answer.png"
    save_png(figure, path, bbox="tight")
    report.images([path], [f"{task} · {split}: calibration error per language and method, mean ± sd over seeds"],
                  columns=1)


def headline_table(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig,
                   terminal: list[dict[str, Any]]) -> None:
    split = target_split(cfg)
    shown = headline_systems(systems)
    reference = next((s for s in shown if s.name == "none"), shown[0])
    numbers = (("retrieval", "AP", "MAP"), ("retrieval", "nDCG@10", "nDCG"), ("listwise", "ece_equal_width", "ECE"),
               ("listwise", "smece", "smECE"))
    for task in cfg.evaluate.tasks:
        headers = ["system", "seeds", *[f"{lang} {label}" for lang in cfg.evaluate.langs for _, _, label in numbers]]
        rows = []
        for system in shown:
            cells = [system.name, str(len(system.runs))]
            for lang in cfg.evaluate.langs:
                for group, metric, _ in numbers:
                    value = seed_values(system, task, lang, split, group, metric)
                    text = value.text(3)
                    if system is not reference and value.values:
                        diff = two_level_difference(system, reference, task, lang, split, group, metric, cfg.seed)
                        text += " †" if diff is not None and diff.significant else ""
                    cells.append(text)
            rows.append(cells)
        caption = (f"{task} · {split}: MAP, nDCG@10, ECE-w and smECE of the raw listwise scores, mean ± sd over "
                   f"seeds; † differs from {reference.name} (two-level bootstrap, p < 0.05)")
        report.table(headers, rows, caption=caption)
        terminal.append({"caption": caption, "headers": headers, "rows": rows})


DIFFERENCE_NUMBERS = (("retrieval", "AP", "ΔMAP"), ("listwise", "ece_equal_width", "ΔECE-w list"),
                      ("listwise", "smece", "ΔsmECE list"), ("pointwise", "ece_equal_width", "ΔECE-w point"))


def differences(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig,
                terminal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OT - MSE and every distilled method - none, per language, with intervals and tests."""
    split = target_split(cfg)
    shown = {s.name: s for s in headline_systems(systems)}
    pairs = [(a, b) for a, b in (("ot", "mse"), ("ot+mse", "mse"), ("ot", "none"), ("mse", "none"))
             if a in shown and b in shown]
    records: list[dict[str, Any]] = []
    if not pairs:
        return records
    report.heading("Differences between methods (two-level bootstrap over seeds and queries)")
    report.paragraph(
        "Cells: difference of the means over seeds [95% interval]; † the interval excludes 0 (p < 0.05). Each "
        "bootstrap round resamples each system's seeds, then the queries (the same query draws for every system). "
        "Negative ΔECE: the first system is better calibrated."
    )
    for task in cfg.evaluate.tasks:
        headers = ["difference", *[f"{lang} {label}" for lang in cfg.evaluate.langs for _, _, label in DIFFERENCE_NUMBERS]]
        rows = []
        for a, b in pairs:
            cells = [f"{a} − {b}"]
            for lang in cfg.evaluate.langs:
                for group, metric, _ in DIFFERENCE_NUMBERS:
                    diff = two_level_difference(shown[a], shown[b], task, lang, split, group, metric, cfg.seed)
                    cells.append("–" if diff is None else diff.text(3))
                    if diff is not None:
                        records.append({"a": a, "b": b, "task": task, "lang": lang, "split": split, "group": group,
                                        "metric": metric, **diff.to_dict()})
            rows.append(cells)
        caption = f"{task} · {split}: differences, mean over seeds [95% two-level bootstrap interval]"
        report.table(headers, rows, caption=caption)
        terminal.append({"caption": caption, "headers": headers, "rows": rows})
    return records


def calibration_by_view(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig,
                        terminal: list[dict[str, Any]]) -> None:
    """Transfer tables split by view: each calibrator next to the raw scores of its own view."""
    report.heading("Calibration transfer by view: fitted on the seen language, applied unchanged")
    fit = cfg.calibrate.fit_lang
    report.paragraph(
        f"ECE-w ({cfg.evaluate.bins} equal-width bins), mean ± sd over seeds, after each calibrator fitted on "
        f"{fit}/{cfg.calibrate.fit_split}. **Listwise**: softmax over a query's candidates, top-1 confidence vs "
        f"top-1 correct (one event per query); raw = softmax at T = {cfg.evaluate.temperature:g}. **Pointwise**: "
        f"P(relevant) for each of the top-{cfg.evaluate.pointwise_depth} pairs; raw = sigmoid(score) (a fixed "
        "squashing of the cosine, not a probability model). Gap = ECE on an unseen language minus ECE on the seen one."
    )
    shown = headline_systems(systems)
    langs = cfg.calibrate.target_langs
    unseen = [lang for lang in langs if lang != fit]
    for task in cfg.evaluate.tasks:
        for split in cfg.calibrate.target_splits:
            for view in VIEWS:
                headers = ["system", "calibrator", *[f"{lang} ECE-w" for lang in langs], *[f"gap {lang}" for lang in unseen]]
                rows = []
                for system in shown:
                    calibrators = [name for name in cfg.calibrate.calibrators
                                   if any(r["calibrator"] == name and r["view"] == view and r["task"] == task
                                          for rows_ in _calibration_rows(system) for r in rows_)]
                    if not calibrators:
                        continue
                    first = calibrators[0]
                    entries = [("raw", first, "before")] + [(c, c, "after") for c in calibrators if c != "identity"]
                    for label, calibrator, when in entries:
                        values = {lang: calibrated_values(system, task, lang, split, calibrator, "ece_equal_width", when)
                                  for lang in langs}
                        if not any(v.values for v in values.values()):
                            continue
                        gaps = []
                        seen_v = values.get(fit, SeedValues([]))
                        for lang in unseen:
                            other = values[lang]
                            n = min(len(other.values), len(seen_v.values))
                            gaps.append(SeedValues([o - s for o, s in zip(other.values[:n], seen_v.values[:n], strict=True)])
                                        .text(3) if n else "–")
                        rows.append([system.name, label, *[values[lang].text(3) for lang in langs], *gaps])
                if not rows:
                    continue
                caption = f"calibration · {task} · {split} · {view} view (fit: {fit}/{cfg.calibrate.fit_split})"
                report.table(headers, rows, caption=caption)
                terminal.append({"caption": caption, "headers": headers, "rows": rows})


def data_size_curves(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig, folder: Path) -> None:
    """MAP and ECE (raw and after the seen-language calibrator) against the number of bitext pairs."""
    from clir_calib.report.plots import save_png

    sizes = sorted({s.pairs for s in systems if s.pairs is not None})
    if len(sizes) < 2:
        return
    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    langs = cfg.evaluate.langs
    methods = list(dict.fromkeys(s.name for s in systems if s.pairs is not None))
    flat = {s.name: s for s in systems if s.pairs is None}
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.0 * len(langs), 9.0), dpi=110)
    FigureCanvasAgg(figure)
    grid = figure.subplots(3, len(langs), squeeze=False)
    panels = (("MAP", lambda s, lang: seed_values(s, task, lang, split, "retrieval", "AP")),
              ("ECE-w raw (listwise)", lambda s, lang: calibrated_values(s, task, lang, split, "temperature",
                                                                          "ece_equal_width", "before")),
              (f"ECE-w after temperature fit on {cfg.calibrate.fit_lang}",
               lambda s, lang: calibrated_values(s, task, lang, split, "temperature", "ece_equal_width", "after")))
    for row, (title, getter) in enumerate(panels):
        for col, lang in enumerate(langs):
            ax = grid[row][col]
            for i, method in enumerate(methods):
                points = [(s.pairs, getter(s, lang)) for s in systems if s.name == method and s.pairs is not None]
                points = sorted((p, v) for p, v in points if v.values)
                if not points:
                    continue
                xs = [p for p, _ in points]
                mean = np.array([v.mean for _, v in points])
                sd = np.array([v.sd for _, v in points])
                colour = LANG_COLOURS[i % len(LANG_COLOURS)]
                ax.plot(xs, mean, marker="o", color=colour, label=method)
                ax.fill_between(xs, mean - sd, mean + sd, color=colour, alpha=0.2)
            for j, (name, system) in enumerate(flat.items()):
                value = getter(system, lang)
                if value.values:
                    ax.axhline(value.mean, linestyle="--", color="#555555", linewidth=0.8,
                               label=name if j == 0 else None)
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(sizes)
            ax.set_xticklabels([f"{size:,}" for size in sizes], fontsize=7)
            ax.set_title(f"{lang}{' (seen)' if lang == cfg.distill.lang else ' (unseen)'}: {title}", fontsize=8)
            ax.set_xlabel("bitext pairs")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
    figure.subplots_adjust(hspace=0.45, wspace=0.3)
    path = folder / "data_size_curves.png"
    save_png(figure, path, bbox="tight")
    report.heading("Data-size curves")
    report.paragraph(f"{task} · {split}; lines: mean over seeds, bands: ± 1 sd; dashed: systems without training.")
    report.images([path], ["MAP and ECE against the number of distillation pairs"], columns=1)


def risk_coverage(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig, folder: Path) -> None:
    """Selective retrieval: answer only the queries whose top-1 confidence passes a threshold."""
    from clir_calib.evaluation.outputs import entry_folder
    from clir_calib.report.plots import save_png

    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    langs = cfg.evaluate.langs
    figure, axes = figure_axes(3.8 * len(langs), 3.4, len(langs))
    rows = []
    for ax, lang in zip(axes, langs, strict=True):
        for i, system in enumerate(headline_systems(systems)):
            curves = []
            for folder_ in system.folders:
                path = entry_folder(folder_, task, lang, split) / "metrics.json"
                if path.is_file():
                    curve = json.loads(path.read_text(encoding="utf-8"))["calibration"]["listwise"].get("risk_coverage")
                    if curve:
                        curves.append(curve)
            if not curves:
                continue
            coverage = np.array(curves[0]["coverage"])
            risk = np.mean([c["risk"] for c in curves], axis=0)
            ax.plot(coverage, risk, color=LANG_COLOURS[i % len(LANG_COLOURS)], label=system.name)
            aurc = seed_values(system, task, lang, split, "listwise", "aurc")
            rows.append([system.name, lang, aurc.text(4)])
        ax.set(title=f"{lang}: risk vs coverage (listwise)", xlabel="coverage (share of queries answered)",
               ylabel="risk (top-1 not relevant)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    path = folder / "risk_coverage.png"
    save_png(figure, path, bbox="tight")
    report.heading("Selective retrieval: when to trust the top-1 result")
    report.paragraph("Queries answered in order of decreasing top-1 confidence (raw listwise view); risk = share of "
                     "answered queries whose top-1 document is not relevant. AURC: area under the curve (lower is "
                     "better), mean ± sd over seeds.")
    report.images([path], [f"{task} · {split}"], columns=1)
    report.table(["system", "lang", "AURC"], rows, caption=f"{task} · {split}: AURC of the raw listwise view")


def bin_sensitivity(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig) -> None:
    """ECE at 5 to 30 bins: how much of a difference is the binning's."""
    from clir_calib.evaluation.outputs import entry_folder
    from clir_calib.metrics.weighted import SENSITIVITY_BINS

    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    rows = []
    for system in headline_systems(systems):
        for lang in cfg.evaluate.langs:
            for view in VIEWS:
                per_bins: dict[str, list[float]] = {str(b): [] for b in SENSITIVITY_BINS}
                for folder_ in system.folders:
                    path = entry_folder(folder_, task, lang, split) / "metrics.json"
                    if not path.is_file():
                        continue
                    table = json.loads(path.read_text(encoding="utf-8"))["calibration"][view].get("ece_bin_sensitivity", {})
                    for bins, values in table.items():
                        per_bins.setdefault(bins, []).append(values["ece_equal_width"])
                if any(per_bins.values()):
                    smooth = seed_values(system, task, lang, split, view, "smece")
                    rows.append([system.name, lang, view,
                                 *[f"{np.mean(v):.3f}" if v else "–" for v in per_bins.values()], smooth.text(3)])
    report.heading("Sensitivity of ECE to the number of bins")
    report.paragraph("Equal-width ECE of the raw scores at each bin count (mean over seeds), next to smECE, which needs "
                     "no bins (Blasiok and Nakkiran 2024).")
    report.table(["system", "lang", "view", *[f"{b} bins" for b in SENSITIVITY_BINS], "smECE"], rows,
                 caption=f"{task} · {split}")
