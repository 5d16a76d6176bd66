"""The report's curves: MAP and ECE against the number of distillation pairs, risk-coverage (selective
retrieval), and how ECE moves with the bin count."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clir_calib.config import ExperimentConfig
from clir_calib.pipeline.seed_report import (
    LANG_COLOURS,
    VIEWS,
    calibrated_values,
    figure_axes,
    headline_systems,
    languages,
    target_split,
)
from clir_calib.pipeline.seed_stats import SystemRuns, seed_values
from clir_calib.report import Report


def data_size_curves(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig, folder: Path) -> None:
    """MAP and ECE (raw and after the seen-language calibrator) against the number of bitext pairs."""
    from clir_calib.report.plots import save_png

    sizes = sorted({s.pairs for s in systems if s.pairs is not None})
    if len(sizes) < 2:
        return
    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    langs = languages(cfg, cfg.evaluate.langs)
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
    save_png(figure, path, bbox="tight", vector=True)
    report.heading("Data-size curves")
    report.paragraph(f"{task} · {split}; lines: mean over seeds, bands: ± 1 sd; dashed: systems without training.")
    report.images([path], ["MAP and ECE against the number of distillation pairs"], columns=1)


def risk_coverage(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig, folder: Path) -> None:
    """Selective retrieval: answer only the queries whose top-1 confidence passes a threshold."""
    from clir_calib.evaluation.outputs import read_entry_metrics
    from clir_calib.report.plots import save_png

    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    langs = languages(cfg, cfg.evaluate.langs)
    figure, axes = figure_axes(3.8 * len(langs), 3.4, len(langs))
    for ax in axes[1:]:
        ax.sharey(axes[0])  # one risk scale: the panels compare languages
    rows = []
    for index, (ax, lang) in enumerate(zip(axes, langs, strict=True)):
        for i, system in enumerate(headline_systems(systems)):
            curves = []
            for folder_ in system.folders:
                metrics = read_entry_metrics(folder_, task, lang, split)
                curve = (metrics["calibration"].get("listwise") or {}).get("risk_coverage") if metrics else None
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
               ylabel="risk (top-1 not relevant)" if index == 0 else "")
        ax.grid(alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=min(6, max(1, len(names))),
                  fontsize=7, frameon=False)
    figure.subplots_adjust(wspace=0.25)
    path = folder / "risk_coverage.png"
    save_png(figure, path, bbox="tight", vector=True)
    report.heading("Selective retrieval: when to trust the top-1 result")
    report.paragraph("Queries answered in order of decreasing top-1 confidence (raw listwise view); risk = share of "
                     "answered queries whose top-1 document is not relevant. AURC: area under the curve (lower is "
                     "better), mean ± sd over seeds.")
    report.images([path], [f"{task} · {split}"], columns=1)
    report.table(["system", "lang", "AURC"], rows, caption=f"{task} · {split}: AURC of the raw listwise view")


def bin_sensitivity(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig) -> None:
    """ECE at 5 to 30 bins: how much of a difference is the binning's."""
    from clir_calib.evaluation.outputs import read_entry_metrics
    from clir_calib.metrics.weighted import SENSITIVITY_BINS

    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    rows = []
    for system in headline_systems(systems):
        for lang in cfg.evaluate.langs:
            for view in VIEWS:
                per_bins: dict[str, list[float]] = {str(b): [] for b in SENSITIVITY_BINS}
                for folder_ in system.folders:
                    metrics = read_entry_metrics(folder_, task, lang, split)
                    if metrics is None:
                        continue
                    table = (metrics["calibration"].get(view) or {}).get("ece_bin_sensitivity", {})
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
