"""Evaluate one system on every configured (task, language, split): retrieval and calibration.

Every entry is first encoded (through the embedding cache), searched (top-k) and labelled with the qrels: the
model's work, on all its threads. Then the entries are measured (:mod:`clir_calib.evaluation.measures`: retrieval
metrics and both calibration views, with bootstrap intervals over queries) and written (see
:mod:`clir_calib.evaluation.outputs`), each on every core through helper processes (:mod:`clir_calib.shared_work`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from clir_calib.claims import claims_output, config_inputs
from clir_calib.config import (
    EvaluateConfig,
    ExperimentConfig,
)
from clir_calib.evaluation.encoding import encode_task
from clir_calib.evaluation.measures import LEVEL
from clir_calib.evaluation.plan import check_evaluate_config, planned_entries
from clir_calib.evaluation.results import EntryResult
from clir_calib.evaluation.system import System
from clir_calib.retrieval.runs import scored_run
from clir_calib.retrieval.scored import ScoredRun
from clir_calib.retrieval.search import top_k

log = logging.getLogger(__name__)


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


def raw_view_settings(ev: EvaluateConfig, temperature: Any) -> dict[str, Any]:
    """How the raw scores were read as probabilities: ``calibrate`` and the report read these back, so they
    never fall back to a default of their own."""
    return {"temperature": temperature.value, "temperature_source": temperature.source,
            "sigmoid_scale": ev.sigmoid_scale, "sigmoid_bias": ev.sigmoid_bias, "pointwise_depth": ev.pointwise_depth,
            "bins": ev.bins}


def evaluate_system(
    cfg: ExperimentConfig, system: System, calibrator: Any | None = None, progress: bool = False
) -> list[EntryResult]:
    """Evaluate ``system`` on every available (task, lang, split) of ``cfg.evaluate``: every entry encoded and
    searched first (the model's work, on every thread), then measured (numpy, on every core: shared with helper
    processes, :func:`~clir_calib.shared_work.share_work`)."""
    from clir_calib.data.store import load_task
    from clir_calib.evaluation.measures import MeasureJob, measure_entry
    from clir_calib.shared_work import share_work

    ev = cfg.evaluate
    check_evaluate_config(ev)
    planned, _ = planned_entries(ev, cfg.data.prepared)
    scored = []
    for task_name, lang, split in planned:
        task = load_task(cfg.data.prepared, task_name, lang, split, max_images=cfg.evaluate.max_images)
        log.info("evaluating %s on %s/%s/%s", system.name, task_name, lang, split)
        run, n_docs, skipped, timing = score_task(task, system, cfg, progress=progress)
        judged = {qid: task.qrels.get(qid, {}) for qid in run.qids}
        baseline_info = dict(system.baseline.last_stats) if system.baseline is not None else {}
        scored.append((task_name, lang, split, run, n_docs, skipped, timing, judged, baseline_info))
    measured = share_work(measure_entry, [MeasureJob(entry[3], ev, cfg.seed, calibrator, system.temperature.value)
                                          for entry in scored])
    results = []
    for (task_name, lang, split, run, n_docs, skipped, timing, judged, baseline_info), found in zip(
            scored, measured, strict=True):
        timing["measure_s"] = found.seconds
        results.append(EntryResult(task_name, lang, split, run, n_docs, skipped, found.per_query, found.retrieval,
                                   found.views, timing, qrels=judged, baseline=baseline_info,
                                   diagnostics=found.diagnostics))
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
    from clir_calib.shared_work import share_work

    ev = cfg.evaluate
    with atomic_dir(target, overwrite=overwrite) as tmp:
        entries = []
        written = share_work(outputs.write_entry_job, [(tmp, entry, str(description["name"]), ev.diagrams)
                                                       for entry in results])  # separate folders, side by side
        for entry, metrics in zip(results, written, strict=True):
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
