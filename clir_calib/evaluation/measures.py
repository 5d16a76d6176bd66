"""What evaluate measures on one scored run: retrieval metrics and every calibration view, with bootstrap
intervals over queries, and the score diagnostics.

Numpy only (no model): the evaluate stage encodes every entry first, then measures the entries with
:func:`~clir_calib.shared_work.share_work`, here and in helper processes on spare cores
(:func:`measure_entry` is what they run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from clir_calib.config import EvaluateConfig
from clir_calib.errors import ConfigError
from clir_calib.evaluation.bootstrap import Interval, bootstrap_means, bootstrap_pairs
from clir_calib.evaluation.results import ViewResult
from clir_calib.evaluation.views import ViewPairs, calibrated_view, raw_views
from clir_calib.metrics.retrieval import per_query_metrics
from clir_calib.retrieval.scored import ScoredRun

LEVEL = 0.95


def measure(
    run: ScoredRun, ev: EvaluateConfig, seed: int, calibrator: Any | None = None, temperature: float | None = None,
    raw: tuple[str, ...] = ("listwise", "pointwise"),
) -> tuple[dict[str, np.ndarray], dict[str, Interval], dict[str, ViewResult]]:
    """Per-query retrieval metrics, their intervals, and every calibration view with intervals.

    ``temperature``: the raw listwise view's, as resolved for the system (``evaluate.temperature`` when None);
    ``raw``: the raw views measured (an external run has only those whose mapping to probabilities was stated).
    """
    per_query = per_query_metrics(run.labels, run.n_relevant)
    retrieval = bootstrap_means(per_query, ev.bootstrap, seed=seed, level=LEVEL)
    temperature = temperature if temperature is not None else ev.temperature
    if temperature is None and "listwise" in raw:
        raise ConfigError("no listwise temperature: set evaluate.temperature or evaluate through load_system")
    views_of_raw = raw_views(run, temperature or 1.0, ev.sigmoid_scale, ev.sigmoid_bias, ev.pointwise_depth)
    pairs = {name: view for name, view in views_of_raw.items() if name in raw}
    if calibrator is not None:
        pairs["calibrated"] = calibrated_view(run, calibrator, ev.pointwise_depth)
    views = {}
    for name, view in pairs.items():
        report = view.report(ev.bins)
        intervals = bootstrap_pairs(view.confidences, view.correct, ev.bins, ev.bootstrap, seed=seed, level=LEVEL)
        views[name] = ViewResult(view, report, intervals, bin_sensitivity(view), risk_coverage_curve(view))
    return per_query, retrieval, views


def bin_sensitivity(view: ViewPairs) -> dict[str, dict[str, float]]:
    """ECE with equal-width and equal-mass bins at each bin count of ``SENSITIVITY_BINS``."""
    from clir_calib.metrics.weighted import SENSITIVITY_BINS

    result = {}
    for bins in SENSITIVITY_BINS:
        report = view.report(bins)
        result[str(bins)] = {"ece_equal_width": report.ece_equal_width, "ece_equal_mass": report.ece_equal_mass}
    return result


def risk_coverage_curve(view: ViewPairs, points: int = 101) -> dict[str, list[float]]:
    """The risk-coverage curve (answer the most confident first), sampled at ``points`` coverages."""
    from clir_calib.metrics.weighted import Pairs, risk_coverage

    pairs = Pairs(view.confidences.reshape(-1), view.correct.reshape(-1))
    coverage, risk, _ = risk_coverage(pairs, np.ones((1, pairs.size)))
    grid = np.linspace(0.0, 1.0, points)[1:]
    at = np.searchsorted(coverage[0], grid - 1e-12, side="left").clip(0, coverage.shape[1] - 1)
    return {"coverage": [round(float(c), 4) for c in grid], "risk": [round(float(r), 6) for r in risk[0][at]]}


@dataclass
class MeasureJob:
    """One entry's scored run and how to measure it (what a helper process needs)."""

    run: ScoredRun
    ev: EvaluateConfig
    seed: int
    calibrator: Any | None
    temperature: float | None


@dataclass
class Measured:
    per_query: dict[str, np.ndarray]
    retrieval: dict[str, Interval]
    views: dict[str, ViewResult]
    diagnostics: dict[str, Any]
    seconds: float


def measure_entry(job: MeasureJob) -> Measured:
    """:func:`measure` and the score diagnostics of one entry (a module-level function: helpers run it)."""
    from clir_calib.evaluation.diagnostics import score_diagnostics

    started = time.perf_counter()
    per_query, retrieval, views = measure(job.run, job.ev, job.seed, job.calibrator, job.temperature)
    seconds = time.perf_counter() - started
    return Measured(per_query, retrieval, views, score_diagnostics(job.run.scores, job.run.labels, job.temperature),
                    seconds)
