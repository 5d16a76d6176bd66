"""The study report's seed-aware sections: the answer figure, mean ± sd tables, tests, curves.

Every number is the mean over a system's seeds with its sd; significance is the two-level
bootstrap of :mod:`clir_calib.pipeline.seed_stats`. Calibration tables are split by view, so a
listwise calibrator is compared with the raw listwise scores and a pointwise one with the raw
pointwise scores (they measure different events: top-1 correctness of a query vs relevance of a pair).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.config import ExperimentConfig
from clir_calib.pipeline.figures import corpus_note, error_bars, figure_axes, languages, log_scale_if_positive
from clir_calib.pipeline.seed_stats import (
    Difference,
    SeedValues,
    SystemRuns,
    seed_values,
    two_level,
    two_level_difference,
)
from clir_calib.report import Report

VIEWS = ("listwise", "pointwise")
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


def reference_system(shown: list[SystemRuns], cfg: ExperimentConfig) -> SystemRuns:
    """``report.reference`` when the study has it, else the first system."""
    return next((s for s in shown if s.name == cfg.report.reference), shown[0])


def compared_pairs(shown: list[SystemRuns], cfg: ExperimentConfig) -> list[tuple[str, str]]:
    """Every system minus the reference, then ``report.pairs`` (default: every pair of distilled methods, the
    later in config order minus the earlier), each once."""
    reference = reference_system(shown, cfg).name
    names = [s.name for s in shown]
    distilled = [s.name for s in shown if s.runs and s.runs[0].method.losses]
    extra = [tuple(p) for p in cfg.report.pairs] or [(a, b) for i, a in enumerate(distilled) for b in distilled[:i]]
    pairs = [(name, reference) for name in names if name != reference]
    pairs += [(a, b) for a, b in extra if a in names and b in names and a != b]
    return list(dict.fromkeys(pairs))


def _calibration_rows(system: SystemRuns) -> list[list[dict[str, Any]]]:
    """Per seed, the rows of its ``calibration.json``."""
    from clir_calib.transfer.outputs import read_calibration

    return [read_calibration(run.calibration_dir).get("rows", []) for run in system.runs
            if run.calibration_dir is not None and (run.calibration_dir / "calibration.json").is_file()]


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


def calibrated_samples(system: SystemRuns, task: str, lang: str, split: str, calibrator: str) -> np.ndarray | None:
    """Per seed, ECE-w after ``calibrator`` on evaluate's bootstrap draws ``[seeds, rounds]`` (None when a seed's
    calibration folder has none)."""
    from clir_calib.transfer.outputs import read_calibrated_samples, sample_key

    rows = []
    for run in system.runs:
        found = read_calibrated_samples(run.calibration_dir) if run.calibration_dir else {}
        key = sample_key(task, calibrator, lang, split)
        if key not in found:
            return None
        rows.append(found[key])
    return np.stack(rows) if rows and len({r.shape for r in rows}) == 1 else None


def calibrated_difference(a: SystemRuns, b: SystemRuns, task: str, lang: str, split: str, calibrator: str,
                          seed: int = 0) -> Difference | None:
    """ECE-w after ``calibrator`` (fitted on the seen language), ``a - b``, with its two-level interval."""
    point_a = calibrated_values(a, task, lang, split, calibrator, "ece_equal_width", "after")
    point_b = calibrated_values(b, task, lang, split, calibrator, "ece_equal_width", "after")
    if not point_a.values or not point_b.values:
        return None
    return two_level(point_a.mean - point_b.mean, calibrated_samples(a, task, lang, split, calibrator),
                     calibrated_samples(b, task, lang, split, calibrator), seed)


def answer_figure(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig, folder: Path) -> None:
    """Per language and method: ECE of the raw scores and after the calibrator fitted on the seen language."""
    from matplotlib.ticker import FormatStrFormatter

    from clir_calib.report.plots import save_png

    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    langs = languages(cfg, cfg.calibrate.target_langs)
    shown = headline_systems(systems)
    views = [view for view in VIEWS if any(  # a view whose headline calibrator was not fitted has no panel
        calibrated_values(s, task, lang, split, cfg.report.headline_calibrators[view], "ece_equal_width", "after").values
        for s in shown for lang in langs)]
    if not views:
        return
    figure, axes = figure_axes(4.2 * len(views), 3.8, len(views))
    for ax, view in zip(axes, views, strict=True):
        calibrator = cfg.report.headline_calibrators[view]
        width = 0.8 / max(1, len(shown))
        for i, system in enumerate(shown):
            raw = [calibrated_values(system, task, lang, split, calibrator, "ece_equal_width", "before") for lang in langs]
            after = [calibrated_values(system, task, lang, split, calibrator, "ece_equal_width", "after") for lang in langs]
            xs = np.arange(len(langs)) - 0.4 + width * (i + 0.5)
            colour = LANG_COLOURS[i % len(LANG_COLOURS)]
            ax.bar(xs, [v.mean for v in raw], width=width, yerr=error_bars(raw), color=colour, alpha=0.35,
                   edgecolor=colour, capsize=2, label=f"{system.name} raw")
            ax.errorbar(xs, [v.mean for v in after], yerr=error_bars(after), fmt="o", color=colour, capsize=3,
                        label=f"{system.name} calibrated")
        labels = [f"{lang}{' (seen)' if lang == cfg.calibrate.fit_lang else ''}" for lang in langs]
        ax.set_xticks(range(len(langs)))
        ax.set_xticklabels(labels)
        ax.set_ylabel("ECE (equal-width bins)")
        if log_scale_if_positive(ax):  # raw (~0.1-0.6) and calibrated (~0.01-0.05) both readable
            ax.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
            ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
            ax.tick_params(axis="y", which="minor", labelsize=6)
        ax.set_title(f"{view}: raw (bars), {calibrator} fit on {cfg.calibrate.fit_lang} (dots)", fontsize=9)
        ax.grid(axis="y", alpha=0.3, which="both")
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=min(4, len(names)), fontsize=7,
                  frameon=False)  # below the panels, never over a bar
    figure.subplots_adjust(wspace=0.35)
    path = folder / "answer.png"
    save_png(figure, path, bbox="tight", vector=True)
    report.images([path], [f"{task} · {split}: calibration error per language and method, mean ± sd over seeds"],
                  columns=1)


def headline_table(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig,
                   terminal: list[dict[str, Any]]) -> None:
    split = target_split(cfg)
    shown = headline_systems(systems)
    reference = reference_system(shown, cfg)
    view = cfg.report.headline_view
    numbers = (("retrieval", "AP", "MAP"), ("retrieval", "nDCG@10", "nDCG"), (view, "ece_equal_width", "ECE"),
               (view, "smece", "smECE"))
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
        caption = (f"{task} · {split}: MAP, nDCG@10, ECE-w and smECE of the raw {view} scores, mean ± sd over "
                   f"seeds; † differs from {reference.name} (two-level bootstrap, p < 0.05)")
        report.table(headers, rows, caption=caption)
        terminal.append({"caption": caption, "headers": headers, "rows": rows})


def raw_temperatures(systems: list[SystemRuns]) -> str:
    """The raw listwise temperature(s) the evaluations used, with where each came from (from their summaries)."""
    from clir_calib.evaluation.outputs import read_summary

    found: dict[tuple[float, str], list[str]] = {}
    unstated: dict[str, list[str]] = {}
    for system in systems:
        for folder in system.folders:
            raw = read_summary(folder).get("raw_views") or {}
            if raw.get("temperature") is not None:
                found.setdefault((raw["temperature"], raw.get("temperature_source", "")), []).append(system.name)
            elif "temperature" in raw:  # an imported run whose scores have no stated mapping
                unstated.setdefault(str(raw.get("unstated", "no stated mapping")), []).append(system.name)
    parts = [f"T = {value:g} ({source})" if len(found) == 1 and not unstated else
             f"T = {value:g} for {', '.join(dict.fromkeys(names))} ({source})" for (value, source), names in found.items()]
    parts += [f"no raw view for {', '.join(dict.fromkeys(names))}: {why}" for why, names in unstated.items()]
    return "; ".join(parts) or "the evaluations' temperatures"


def calibration_by_view(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig,
                        terminal: list[dict[str, Any]]) -> None:
    """Transfer tables split by view: each calibrator next to the raw scores of its own view."""
    report.heading("Calibration transfer by view: fitted on the seen language, applied unchanged")
    fit = cfg.calibrate.fit_lang
    report.paragraph(
        f"ECE-w ({cfg.evaluate.bins} equal-width bins), mean ± sd over seeds, after each calibrator fitted on "
        f"{fit}/{cfg.calibrate.fit_split}. **Listwise**: softmax over a query's candidates, top-1 confidence vs "
        f"top-1 correct (one event per query); raw = softmax at {raw_temperatures(systems)}. **Pointwise**: "
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
                caption = (f"calibration · {task} · {split} · {view} view (fit: {fit}/{cfg.calibrate.fit_split})"
                           + corpus_note(shown, task, split, langs))
                report.table(headers, rows, caption=caption)
                terminal.append({"caption": caption, "headers": headers, "rows": rows})
