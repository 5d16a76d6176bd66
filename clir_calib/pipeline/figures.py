"""Shared pieces of the report's figures and tables: axes, error bars, language order, corpus-size notes."""

from __future__ import annotations

from typing import Any

from clir_calib.config import ExperimentConfig
from clir_calib.evaluation.outputs import read_summary
from clir_calib.pipeline.seed_stats import SeedValues, SystemRuns

__all__ = ["corpus_note", "error_bars", "figure_axes", "languages", "log_scale_if_positive"]


def log_scale_if_positive(ax: Any) -> bool:
    """A log y-axis when the axes hold positive data (values spanning orders of magnitude stay readable); left
    linear when nothing positive was drawn, where a log axis cannot be drawn at all."""
    import numpy as np

    found = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
    found += [np.array([patch.get_height() for patch in container], dtype=float) for container in ax.containers
              if hasattr(container, "patches")]
    values = np.concatenate([v.reshape(-1) for v in found]) if found else np.empty(0)
    if not (np.isfinite(values) & (values > 0)).any():
        return False
    ax.set_yscale("log", nonpositive="clip")
    label = ax.get_ylabel()
    if label and "log scale" not in label:
        ax.set_ylabel(f"{label} (log scale)")
    return True


def corpus_note(systems: list[SystemRuns], task: str, split: str, langs: list[str]) -> str:
    """When the languages' corpora differ in size, say so: a gap between them then mixes language and corpus size."""
    for system in systems:
        for folder in system.folders:
            summary = read_summary(folder)
            sizes = {e["lang"]: int(e["n_documents"]) for e in summary.get("entries", [])
                     if e["task"] == task and e["split"] == split and e["lang"] in langs}
            if len(set(sizes.values())) > 1:
                listed = ", ".join(f"{lang} {sizes[lang]:,}" for lang in langs if lang in sizes)
                return (f"; documents per language differ ({listed}): a gap here mixes the language with the "
                        "corpus size")
            if sizes:
                return ""
    return ""


def error_bars(values: list[SeedValues]) -> list[float] | None:
    """The sd of each value as error bars, or none at all when no value has two seeds (no zero-width bars)."""
    return [v.sd for v in values] if any(len(v.values) > 1 for v in values) else None


def languages(cfg: ExperimentConfig, langs: list[str]) -> list[str]:
    """``langs`` in the one order every table and figure uses: the seen language first, then the config's order."""
    fit = cfg.calibrate.fit_lang
    return [*([fit] if fit in langs else []), *[lang for lang in langs if lang != fit]]


def figure_axes(width: float, height: float, columns: int) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, columns, squeeze=False)[0]
    return figure, axes
