"""Evaluate one system on every configured (task, language, split): retrieval and calibration.

For each entry: encode (through the embedding cache), search the top-k, label with the qrels,
then measure retrieval metrics and both calibration views, with bootstrap intervals over
queries. :func:`run_evaluation` writes everything (see :mod:`clir_calib.evaluation.outputs`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.claims import claims_output, config_inputs
from clir_calib.config import (
    EvaluateConfig,
    ExperimentConfig,
)
from clir_calib.errors import ConfigError
from clir_calib.evaluation.bootstrap import Interval, bootstrap_means, bootstrap_pairs
from clir_calib.evaluation.encoding import encode_task
from clir_calib.evaluation.plan import check_evaluate_config, planned_entries
from clir_calib.evaluation.results import EntryResult, ViewResult
from clir_calib.evaluation.system import System
from clir_calib.evaluation.views import ViewPairs, calibrated_view, raw_views
from clir_calib.metrics.retrieval import per_query_metrics
from clir_calib.retrieval.runs import scored_run
from clir_calib.retrieval.scored import ScoredRun
from clir_calib.retrieval.search import top_k

log = logging.getLogger(__name__)
LEVEL = 0.95


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


def raw_view_settings(ev: EvaluateConfig, temperature: Any) -> dict[str, Any]:
    """How the raw scores were read as probabilities: ``calibrate`` and the report read these back, so they
    never fall back to a default of their own."""
    return {"temperature": temperature.value, "temperature_source": temperature.source,
            "sigmoid_scale": ev.sigmoid_scale, "sigmoid_bias": ev.sigmoid_bias, "pointwise_depth": ev.pointwise_depth,
            "bins": ev.bins}


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


def evaluate_system(
    cfg: ExperimentConfig, system: System, calibrator: Any | None = None, progress: bool = False
) -> list[EntryResult]:
    """Evaluate ``system`` on every available (task, lang, split) of ``cfg.evaluate``."""
    from clir_calib.data.store import load_task
    from clir_calib.evaluation.diagnostics import score_diagnostics

    ev = cfg.evaluate
    check_evaluate_config(ev)
    planned, _ = planned_entries(ev, cfg.data.prepared)
    results = []
    for task_name, lang, split in planned:
        task = load_task(cfg.data.prepared, task_name, lang, split, max_images=cfg.evaluate.max_images)
        log.info("evaluating %s on %s/%s/%s", system.name, task_name, lang, split)
        run, n_docs, skipped, timing = score_task(task, system, cfg, progress=progress)
        started = time.perf_counter()
        per_query, retrieval, views = measure(run, ev, cfg.seed, calibrator, system.temperature.value)
        timing["measure_s"] = time.perf_counter() - started
        judged = {qid: task.qrels.get(qid, {}) for qid in run.qids}
        baseline_info = dict(system.baseline.last_stats) if system.baseline is not None else {}
        diagnostics = score_diagnostics(run.scores, run.labels, system.temperature.value)
        results.append(EntryResult(task_name, lang, split, run, n_docs, skipped, per_query, retrieval, views, timing,
                                   qrels=judged, baseline=baseline_info, diagnostics=diagnostics))
    return results


@claims_output("output", inputs=lambda arguments: config_inputs(arguments["cfg"]))
def run_evaluation(
    cfg: ExperimentConfig, output: str | Path, overwrite: bool = False, progress: bool = False,
    system: System | None = None,
) -> dict[str, Any]:
    """Evaluate the system ``cfg.evaluate`` describes and write the folder ``output``.

    The folder appears atomically (complete or not at all); an existing one is replaced only with
    ``overwrite``, and never when it is, holds or lies inside an input (:mod:`clir_calib.claims`). Returns the ``summary.json`` content.
    """
    from clir_calib.evaluation.system import load_system

    ev = cfg.evaluate
    check_evaluate_config(ev)
    _, impossible = planned_entries(ev, cfg.data.prepared)  # unknown splits fail here, before any model loads
    target = Path(output)
    calibrator = None
    if ev.calibrator:
        from clir_calib.calibrators.files import load_calibrator

        calibrator = load_calibrator(ev.calibrator)
    started = time.perf_counter()
    if system is None:
        system = load_system(cfg, device=cfg.device)
    results = evaluate_system(cfg, system, calibrator=calibrator, progress=progress)
    return write_evaluation(target, results, cfg, system.description, raw_view_settings(ev, system.temperature),
                            impossible, started, overwrite)


def write_evaluation(
    target: Path, results: list[EntryResult], cfg: ExperimentConfig, description: dict[str, Any],
    raw_settings: dict[str, Any], unavailable: list[dict[str, str]], started: float, overwrite: bool,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """Write an evaluate folder (every entry, ``summary.json``, ``config.yaml``) atomically; return the summary."""
    from clir_calib.atomic import atomic_dir, write_json
    from clir_calib.config import config_hash, save_config
    from clir_calib.evaluation import outputs

    ev = cfg.evaluate
    with atomic_dir(target, overwrite=overwrite) as tmp:
        entries = []
        for entry in results:
            metrics = outputs.write_entry(tmp, entry, str(description["name"]), ev.diagrams)
            entries.append({
                "task": entry.task, "lang": entry.lang, "split": entry.split,
                "path": f"{entry.task}/{entry.lang}/{entry.split}",
                **{k: metrics[k] for k in ("n_queries", "n_documents", "queries_skipped", "retrieval")},
                "calibration": {name: {"description": view["description"], "metrics": view["metrics"]}
                                for name, view in metrics["calibration"].items()},
            })
        summary = {
            "system": description,
            "config_hash": config_hash(cfg),
            "calibrator": ev.calibrator,
            "bootstrap": ev.bootstrap, "seed": cfg.seed, "level": LEVEL, "bins": ev.bins, "top_k": ev.top_k,
            "raw_views": raw_settings,
            "entries": entries,
            "unavailable": unavailable,
            **({"notes": list(notes)} if notes else {}),
            "elapsed_s": round(time.perf_counter() - started, 2),
        }
        write_json(tmp / outputs.SUMMARY_FILE, summary)
        save_config(cfg, tmp)
    return summary
