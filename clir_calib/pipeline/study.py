"""The study in one call: prepare -> distill (per method) -> evaluate -> calibrate -> report.

Each stage writes into a folder keyed by a hash of its resolved inputs (:mod:`stages`), so a
second invocation reuses everything, a changed setting redoes only what depends on it, and an
interrupted distillation continues from its last checkpoint.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clir_calib.claims import config_inputs
from clir_calib.config import (
    ExperimentConfig,
    MethodConfig,
    default_multi30k_source,
    save_config,
)
from clir_calib.errors import ConfigError
from clir_calib.locking import cross_node_lock_problem
from clir_calib.pipeline.checks import check_against_prepared, check_methods
from clir_calib.pipeline.executors import LocalExecutor, StudyExecutor
from clir_calib.pipeline.results import TARGET_BITEXT_MARK, MethodOutputs, StudyResult
from clir_calib.pipeline.stages import StageRunner
from clir_calib.pipeline.study_stages import data_key, job_output, say, stage_jobs

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("prepare", "distill", "baseline", "evaluate", "calibrate", "report")


def run_study(
    cfg: ExperimentConfig,
    force: set[str] | None = None,
    progress: bool = False,
    announce: Callable[[str], None] | None = None,
) -> StudyResult:
    """Run every stage of the study ``cfg`` describes under ``cfg.output_dir``."""
    started = time.perf_counter()
    announce = announce or (lambda text: log.info(text))
    check_methods(cfg)
    executor = study_executor(cfg)
    root = Path(cfg.output_dir)
    if executor.spans_nodes() and (problem := cross_node_lock_problem(root)) is not None:
        raise ConfigError(problem)
    runner = StageRunner(root, STAGES, force, inputs=[*config_inputs(cfg), str(default_multi30k_source() or "")])
    runner.lock_wait = float(getattr(executor, "lock_wait", 0.0))
    root.mkdir(parents=True, exist_ok=True)
    save_config(cfg, root)

    prepared = _prepare(cfg, runner, announce)
    base = copy.deepcopy(cfg)
    base.data.prepared = str(prepared)
    base.evaluate.index_dir = str(root / "index")
    check_against_prepared(base)

    if base.distill.teacher_cache is None:
        base.distill.teacher_cache = str(root / "teacher-cache")
    outputs = study_runs(cfg)
    local = isinstance(executor, LocalExecutor)
    jobs = stage_jobs(base, outputs, runner, announce if local else say, progress and local, runner.results[0])
    results = executor.run(jobs)
    runner.results = [runner.results[0], *results]  # prepare, then every job's result in the study's order
    for job, result in zip(jobs, results, strict=True):
        job_output(outputs[job.run], result)

    from clir_calib.pipeline.study_report import REPORT_VERSION, write_study_report

    report_key = [*[r.key for r in runner.results], REPORT_VERSION]
    report = runner.run(
        "report", "report", report_key,
        lambda folder: write_study_report(base, outputs, folder, runner.results, announce),
    )
    from clir_calib.pipeline.folders_report import point_latest

    point_latest(report.folder.parent, report.folder)
    announce(f"report: {report.folder / 'report.html'}")
    return StudyResult(
        root=root, stages=runner.results, methods=outputs,
        report_md=report.folder / "report.md", report_html=report.folder / "report.html",
        seconds=time.perf_counter() - started,
    )


def study_seeds(cfg: ExperimentConfig) -> list[int]:
    """The seeds distilled methods train with: ``seeds``, or ``[seed]`` when it is empty."""
    return list(dict.fromkeys(cfg.seeds)) or [cfg.seed]


def study_sizes(cfg: ExperimentConfig) -> list[int | None]:
    """The data sizes (``distill.max_pairs``, a number or a list) distilled methods train on."""
    sizes = cfg.distill.max_pairs
    values: list[int | None] = list(dict.fromkeys(sizes)) if isinstance(sizes, list) else [sizes]
    for size in values:
        if size is not None and size < 1:
            raise ConfigError(f"distill.max_pairs must hold positive numbers, got {size}")
    if not values:
        raise ConfigError("distill.max_pairs is an empty list; give a number, a list of numbers or leave it empty")
    return values


def study_runs(cfg: ExperimentConfig) -> list[MethodOutputs]:
    """One run per distilled method x data size x seed; methods without training run once."""
    seeds, sizes = study_seeds(cfg), study_sizes(cfg)
    several = len(seeds) > 1 or len(sizes) > 1 or any(len(m.seeds) > 1 for m in cfg.methods)
    runs = []
    for method in cfg.methods:
        if not method.losses:
            runs.append(MethodOutputs(method, label=method.name, marker=_bitext_marker(cfg, method)))
            continue
        for size in sizes:
            for seed in list(dict.fromkeys(method.seeds)) or seeds:
                label = f"{method.name}-n{size or 'all'}-s{seed}" if several else method.name
                runs.append(MethodOutputs(method, seed=seed, pairs=size, label=label))
    return runs


def study_executor(cfg: ExperimentConfig) -> StudyExecutor:
    """The configured executor (``executor``, ``executor_params``), from the registry plugins add to."""
    from clir_calib.plugins import EXECUTORS, chosen_components

    cls = chosen_components(EXECUTORS.get, [cfg.executor], {cfg.executor: cfg.executor_params},
                            "executor_params", "executor")[cfg.executor]
    try:
        return cls(**cfg.executor_params)  # type: ignore[no-any-return]
    except ValueError as error:
        raise ConfigError(f"executor {cfg.executor!r}: {error}") from None


def _bitext_marker(cfg: ExperimentConfig, method: MethodConfig) -> str:
    """:data:`TARGET_BITEXT_MARK` for a baseline that uses bitext of languages other than the distillation
    language (its rows are not zero-shot), else ``""``."""
    from clir_calib import plugins

    if not method.baseline:
        return ""
    baseline = plugins.BASELINES.get(method.baseline)(**method.params)
    return TARGET_BITEXT_MARK if baseline.uses_target_bitext(cfg.distill.lang) else ""


def _prepare(cfg: ExperimentConfig, runner: StageRunner, announce: Callable[[str], None]) -> Path:
    from clir_calib.data import prepare_data

    name = cfg.data.dataset

    def build_stage(folder: Path) -> dict[str, Any]:
        announce(f"prepare: {name} -> bitext and retrieval tasks")
        summary = prepare_data(folder / name, config=cfg, overwrite=True)
        return {"notes": list(summary.notes)}

    result = runner.run("prepare", name, data_key(cfg), build_stage)
    if result.reused:
        announce("prepare: reused")
    return result.folder / name
