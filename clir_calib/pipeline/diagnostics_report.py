"""The report's score diagnostics: what each method did to the scores, next to the base model.

Read from each entry's ``score_diagnostics`` (:mod:`clir_calib.evaluation.diagnostics`): a table per language
(medians of the top-1 score, top-1 margin, relevant and non-relevant scores; the raw listwise mean top-1
confidence against the top-1 accuracy; pointwise CB-ECE raw and after the headline calibrator), and one figure
of each distribution's quantile shift against the reference system, with confidence against accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.evaluation.outputs import read_entry_metrics
from clir_calib.pipeline.figures import languages
from clir_calib.pipeline.seed_report import (
    LANG_COLOURS,
    calibrated_values,
    headline_systems,
    reference_system,
    target_split,
)
from clir_calib.pipeline.seed_stats import SystemRuns, seed_values

DISTRIBUTIONS = (("top1", "top-1 score"), ("margin", "top-1 − top-2"), ("relevant", "relevant"),
                 ("non_relevant", "non-relevant"))
MEDIAN = 9  # index of the 0.50 level in diagnostics.LEVELS


def seed_diagnostics(system: SystemRuns, task: str, lang: str, split: str) -> list[dict[str, Any]]:
    """Per seed, the entry's ``score_diagnostics`` (seeds whose metrics.json has none are left out)."""
    found = []
    for folder in system.folders:
        data = read_entry_metrics(folder, task, lang, split)
        if data is not None and isinstance(data.get("score_diagnostics"), dict):
            found.append(data["score_diagnostics"])
    return found


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def quantiles(found: list[dict[str, Any]], name: str) -> np.ndarray | None:
    """The mean over seeds of one distribution's quantiles, or None when a seed lacks it."""
    rows = [d[name]["quantiles"] for d in found if isinstance(d.get(name), dict)]
    return np.mean(np.asarray(rows, dtype=np.float64), axis=0) if rows and len(rows) == len(found) else None


def diagnostics_rows(ctx: Any, task: str, lang: str, split: str) -> list[dict[str, Any]]:
    """One record per system: medians, listwise confidence and accuracy, CB-ECE raw and calibrated."""
    calibrator = ctx.cfg.report.headline_calibrators["pointwise"]
    records = []
    for system in headline_systems(ctx.systems):
        found = seed_diagnostics(system, task, lang, split)
        if not found:
            continue
        record: dict[str, Any] = {"system": system.name, "task": task, "lang": lang, "split": split,
                                  "seeds": len(found)}
        for name, _ in DISTRIBUTIONS:
            values = quantiles(found, name)
            record[f"{name}_median"] = None if values is None else float(values[MEDIAN])
        for key in ("mean_top1_confidence", "top1_accuracy", "overconfidence"):  # none without a listwise mapping
            record[key] = _mean([float(d["listwise"][key]) for d in found if d.get("listwise")])
        record["cb_ece_raw"] = _mean(seed_values(system, task, lang, split, "pointwise", "cb_ece").values)
        record[f"cb_ece_{calibrator}"] = _mean(calibrated_values(system, task, lang, split, calibrator, "cb_ece",
                                                                 "after").values)
        records.append(record)
    return records


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def diagnostics_section(ctx: Any) -> None:
    cfg = ctx.cfg
    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    calibrator = cfg.report.headline_calibrators["pointwise"]
    langs = languages(cfg, list(cfg.evaluate.langs))
    per_lang = {lang: diagnostics_rows(ctx, task, lang, split) for lang in langs}
    if not any(per_lang.values()):
        return
    ctx.heading("Score diagnostics: what each method does to the scores")
    ctx.paragraph(
        "Medians over each entry's queries (means over seeds) of the top-1 score, the top-1 − top-2 margin and the "
        "scores of relevant and non-relevant retrieved candidates; the raw listwise view's mean top-1 confidence "
        "against its top-1 accuracy (overconfidence = their difference); CB-ECE (class-balanced ECE, Yu et al. "
        "2025): the pointwise ECE over relevant pairs and over non-relevant pairs, averaged, so that the many "
        f"non-relevant pairs do not decide it alone, raw and after {calibrator} fitted on "
        f"{cfg.calibrate.fit_lang}/{cfg.calibrate.fit_split}.")
    headers = ["system", *[label for _, label in DISTRIBUTIONS], "top-1 conf", "top-1 acc", "overconf.",
               "CB-ECE raw", f"CB-ECE +{calibrator}"]
    keys = [*[f"{name}_median" for name, _ in DISTRIBUTIONS], "mean_top1_confidence", "top1_accuracy",
            "overconfidence", "cb_ece_raw", f"cb_ece_{calibrator}"]
    for lang, records in per_lang.items():
        if records:
            ctx.table(headers, [[r["system"], *[_cell(r[k]) for k in keys]] for r in records],
                      caption=f"{task} · {lang} · {split}: score diagnostics (medians; means over seeds)")
    ctx.record("score_diagnostics", [r for records in per_lang.values() for r in records])
    path = shift_figure(ctx, task, split, langs, ctx.folder)
    if path is not None:
        ctx.images([path], [f"{task} · {split}: each method's score quantiles minus the reference's, and its mean "
                            "top-1 confidence against top-1 accuracy (on the diagonal: calibrated on average)"],
                   columns=1)


def shift_figure(ctx: Any, task: str, split: str, langs: list[str], folder: Path) -> Path | None:
    """Rows: languages; columns: each distribution's quantile shift against the reference, then confidence vs
    accuracy. None when there is no reference to shift against or no other system."""
    from clir_calib.report.plots import save_png

    shown = headline_systems(ctx.systems)
    reference = reference_system(shown, ctx.cfg)
    others = [s for s in shown if s.name != reference.name]
    if not others:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colours = {s.name: LANG_COLOURS[i % len(LANG_COLOURS)] for i, s in enumerate(others)} | {reference.name: "black"}
    columns = len(DISTRIBUTIONS) + 1
    figure = Figure(figsize=(3.0 * columns, 2.6 * len(langs)), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(langs), columns, squeeze=False)
    for row, lang in enumerate(langs):
        base = seed_diagnostics(reference, task, lang, split)
        levels = np.asarray(base[0]["levels"]) if base else None
        for col, (name, label) in enumerate(DISTRIBUTIONS):
            ax = axes[row][col]
            ax.axhline(0.0, color="grey", lw=0.8)
            base_q = quantiles(base, name) if base else None
            for system in others:
                mine = quantiles(seed_diagnostics(system, task, lang, split), name)
                if mine is not None and base_q is not None and levels is not None:
                    ax.plot(levels, mine - base_q, color=colours[system.name], lw=1.2, label=system.name)
            ax.set_title(f"{lang}: {label}", fontsize=8)
            ax.tick_params(labelsize=6)
            if col == 0:
                ax.set_ylabel(f"quantile − {reference.name}", fontsize=7)
            if row == len(langs) - 1:
                ax.set_xlabel("quantile level", fontsize=7)
        ax = axes[row][columns - 1]
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        for system in shown:
            found = [d for d in seed_diagnostics(system, task, lang, split) if d.get("listwise")]
            if found:
                ax.scatter([d["listwise"]["top1_accuracy"] for d in found],
                           [d["listwise"]["mean_top1_confidence"] for d in found], s=12, color=colours[system.name])
        ax.set_title(f"{lang}: raw listwise top-1 ({reference.name}: black)", fontsize=8)
        ax.set_xlabel("accuracy", fontsize=7)
        ax.set_ylabel("mean confidence", fontsize=7)
        ax.tick_params(labelsize=6)
    handles, names = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(6, max(1, len(names))),
                  fontsize=7, frameon=False)
    figure.subplots_adjust(wspace=0.35, hspace=0.5)
    path = folder / "score_diagnostics.png"
    save_png(figure, path, bbox="tight", vector=True)
    return path
