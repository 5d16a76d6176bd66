"""Evaluate one system on every configured (task, language, split): retrieval and calibration.

For each entry: encode (through the embedding cache), search the top-k, label with the qrels,
then measure retrieval metrics and both calibration views, with bootstrap intervals over
queries. :func:`run_evaluation` writes everything (see :mod:`clir_calib.evaluation.outputs`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.calibration.metrics import CalibrationReport
from clir_calib.config import (
    EVAL_SPLITS,
    TASKS,
    EvaluateConfig,
    ExperimentConfig,
    check_languages,
    check_splits,
)
from clir_calib.errors import ConfigError
from clir_calib.evaluation.bootstrap import Interval, bootstrap_means, bootstrap_pairs
from clir_calib.evaluation.scored import ScoredRun
from clir_calib.evaluation.system import System
from clir_calib.evaluation.views import ViewPairs, calibrated_view, raw_views
from clir_calib.metrics.retrieval import per_query_metrics
from clir_calib.retrieval.build import encode_task
from clir_calib.retrieval.runs import scored_run
from clir_calib.retrieval.search import BACKENDS, top_k

log = logging.getLogger(__name__)
LEVEL = 0.95


@dataclass
class ViewResult:
    """One calibration view: its pairs, the full report and intervals for the scalar metrics."""

    pairs: ViewPairs
    report: CalibrationReport
    intervals: dict[str, Interval]
    bin_sensitivity: dict[str, dict[str, float]] = field(default_factory=dict)  # bins -> ECE-w/ECE-m
    risk_coverage: dict[str, list[float]] = field(default_factory=dict)  # coverage, risk (most confident first)


@dataclass
class EntryResult:
    """Everything measured for one (task, language, split)."""

    task: str
    lang: str
    split: str
    run: ScoredRun
    n_documents: int
    queries_skipped: int
    per_query: dict[str, np.ndarray]
    retrieval: dict[str, Interval]
    views: dict[str, ViewResult]
    timing: dict[str, float] = field(default_factory=dict)


def check_evaluate_config(ev: EvaluateConfig) -> None:
    """One-line errors for settings that cannot work, before any model is loaded."""
    check_languages(ev.langs)
    check_splits(ev.splits, EVAL_SPLITS)
    for task in ev.tasks:
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r} in evaluate.tasks; choose from {', '.join(TASKS)}")
    if not ev.langs or not ev.splits or not ev.tasks:
        raise ConfigError("evaluate.langs, evaluate.splits and evaluate.tasks must each name at least one entry")
    if ev.backend not in BACKENDS:
        raise ConfigError(f"unknown evaluate.backend {ev.backend!r}; choose from {', '.join(BACKENDS)}")
    for name, value, least in (("top_k", ev.top_k, 1), ("bins", ev.bins, 1), ("bootstrap", ev.bootstrap, 0),
                               ("pointwise_depth", ev.pointwise_depth, 1), ("permutations", ev.permutations, 1),
                               ("max_images", ev.max_images or 1, 1)):
        if value < least:
            raise ConfigError(f"evaluate.{name} must be at least {least}, got {value}")
    if ev.diagrams not in ("all", "equal_width", "none"):
        raise ConfigError(f"evaluate.diagrams must be all, equal_width or none, got {ev.diagrams!r}")
    if not ev.temperature > 0:
        raise ConfigError(f"evaluate.temperature must be positive, got {ev.temperature}")
    if not 0 < ev.alpha < 1:
        raise ConfigError(f"evaluate.alpha must lie in (0, 1), got {ev.alpha}")


def score_task(
    task: Any, system: System, cfg: ExperimentConfig, progress: bool = False
) -> tuple[ScoredRun, int, int, dict[str, float]]:
    """Encode (cached), search and label one task: ``(run, n_documents, queries_skipped, timing)``."""
    started = time.perf_counter()
    queries, docs = encode_task(task, system, cfg, progress=progress)
    assert queries is not None
    encoded = time.perf_counter()
    result = top_k(queries.embeddings, docs.embeddings, cfg.evaluate.top_k, backend=cfg.evaluate.backend)
    run = scored_run(queries.ids, docs.ids, result, task.qrels)
    timing = {"encode_s": encoded - started, "search_s": time.perf_counter() - encoded,
              "documents_cached": float(docs.reused), "queries_cached": float(queries.reused)}
    return run, len(docs.ids), len(task.queries) - len(queries.ids), timing


def measure(
    run: ScoredRun, ev: EvaluateConfig, seed: int, calibrator: Any | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Interval], dict[str, ViewResult]]:
    """Per-query retrieval metrics, their intervals, and every calibration view with intervals."""
    per_query = per_query_metrics(run.labels, run.n_relevant)
    retrieval = bootstrap_means(per_query, ev.bootstrap, seed=seed, level=LEVEL)
    pairs = raw_views(run, ev.temperature, ev.sigmoid_scale, ev.sigmoid_bias, ev.pointwise_depth)
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
    from clir_calib.calibration.weighted import SENSITIVITY_BINS

    result = {}
    for bins in SENSITIVITY_BINS:
        report = view.report(bins)
        result[str(bins)] = {"ece_equal_width": report.ece_equal_width, "ece_equal_mass": report.ece_equal_mass}
    return result


def risk_coverage_curve(view: ViewPairs, points: int = 101) -> dict[str, list[float]]:
    """The risk-coverage curve (answer the most confident first), sampled at ``points`` coverages."""
    from clir_calib.calibration.weighted import Pairs, risk_coverage

    pairs = Pairs(view.confidences.reshape(-1), view.correct.reshape(-1))
    coverage, risk, _ = risk_coverage(pairs, np.ones((1, pairs.size)))
    grid = np.linspace(0.0, 1.0, points)[1:]
    at = np.searchsorted(coverage[0], grid - 1e-12, side="left").clip(0, coverage.shape[1] - 1)
    return {"coverage": [round(float(c), 4) for c in grid], "risk": [round(float(r), 6) for r in risk[0][at]]}


def planned_entries(ev: EvaluateConfig) -> tuple[list[tuple[str, str, str]], list[dict[str, str]]]:
    """The (task, lang, split) combinations to run, and those Multi30k cannot provide (with why)."""
    from clir_calib.data import layout

    planned, impossible = [], []
    for task in ev.tasks:
        for lang in ev.langs:
            for split in ev.splits:
                if not layout.has_language(split, lang):
                    impossible.append({"task": task, "lang": lang, "split": split, "why": f"no {lang} captions in {split}"})
                elif task == "description" and not layout.has_descriptions(split):
                    impossible.append({"task": task, "lang": lang, "split": split, "why": f"no descriptions in {split}"})
                else:
                    planned.append((task, lang, split))
    if not planned:
        raise ConfigError("none of the requested task/language/split combinations exists in Multi30k; "
                          "check evaluate.tasks, evaluate.langs and evaluate.splits")
    return planned, impossible


def evaluate_system(
    cfg: ExperimentConfig, system: System, calibrator: Any | None = None, progress: bool = False
) -> list[EntryResult]:
    """Evaluate ``system`` on every available (task, lang, split) of ``cfg.evaluate``."""
    from clir_calib.data.store import load_task

    ev = cfg.evaluate
    check_evaluate_config(ev)
    planned, _ = planned_entries(ev)
    results = []
    for task_name, lang, split in planned:
        task = load_task(cfg.data.prepared, task_name, lang, split, max_images=cfg.evaluate.max_images)
        log.info("evaluating %s on %s/%s/%s", system.name, task_name, lang, split)
        run, n_docs, skipped, timing = score_task(task, system, cfg, progress=progress)
        started = time.perf_counter()
        per_query, retrieval, views = measure(run, ev, cfg.seed, calibrator)
        timing["measure_s"] = time.perf_counter() - started
        results.append(EntryResult(task_name, lang, split, run, n_docs, skipped, per_query, retrieval, views, timing))
    return results


def run_evaluation(
    cfg: ExperimentConfig, output: str | Path, overwrite: bool = False, progress: bool = False,
    system: System | None = None,
) -> dict[str, Any]:
    """Evaluate the system ``cfg.evaluate`` describes and write the folder ``output``.

    The folder appears atomically (complete or not at all); an existing one is replaced only with
    ``overwrite``. Returns the ``summary.json`` content.
    """
    from clir_calib.atomic import atomic_dir, write_json
    from clir_calib.config import config_hash, save_config
    from clir_calib.evaluation import outputs
    from clir_calib.evaluation.system import load_system

    ev = cfg.evaluate
    check_evaluate_config(ev)
    target = Path(output)
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} already exists; pass --overwrite to replace it or choose another --out")
    calibrator = None
    if ev.calibrator:
        from clir_calib.calibrators.base import load_calibrator

        calibrator = load_calibrator(ev.calibrator)
    started = time.perf_counter()
    if system is None:
        system = load_system(cfg, device=cfg.device)
    results = evaluate_system(cfg, system, calibrator=calibrator, progress=progress)
    _, impossible = planned_entries(ev)
    with atomic_dir(target, overwrite=overwrite) as tmp:
        entries = []
        for entry in results:
            metrics = outputs.write_entry(tmp, entry, system.name, ev.diagrams)
            entries.append({
                "task": entry.task, "lang": entry.lang, "split": entry.split,
                "path": f"{entry.task}/{entry.lang}/{entry.split}",
                **{k: metrics[k] for k in ("n_queries", "n_documents", "queries_skipped", "retrieval")},
                "calibration": {name: {"description": view["description"], "metrics": view["metrics"]}
                                for name, view in metrics["calibration"].items()},
            })
        summary = {
            "system": system.description,
            "config_hash": config_hash(cfg),
            "calibrator": ev.calibrator,
            "bootstrap": ev.bootstrap, "level": LEVEL, "bins": ev.bins, "top_k": ev.top_k,
            "entries": entries,
            "unavailable": impossible,
            "elapsed_s": round(time.perf_counter() - started, 2),
        }
        write_json(tmp / outputs.SUMMARY_FILE, summary)
        save_config(cfg, tmp)
    return summary
