"""The study's stages as jobs (:class:`~clir_calib.pipeline.executors.StageJob`): distill or a baseline's set-up per
run, then evaluate, then calibrate, each a function of the results of the stages it needs.

Each job computes its stage key from the config and the keys of the stages it needs, exactly as the study always
has, so folders written by one executor are found by any other. A job runs wherever its executor puts it: what it
needs from earlier stages (the student's folder, a baseline's parameters, the evaluate folder) comes from their
results, never from state shared in memory.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clir_calib.config import ExperimentConfig, default_multi30k_source
from clir_calib.params import keyed_fields
from clir_calib.pipeline.executors import StageJob
from clir_calib.pipeline.results import MethodOutputs
from clir_calib.pipeline.stages import StageResult, StageRunner

log = logging.getLogger(__name__)
Announce = Callable[[str], None]


def say(text: str) -> None:
    """How a stage running on another worker announces itself: the log (a worker has no terminal of ours)."""
    log.warning(text)


def data_key(cfg: ExperimentConfig) -> dict[str, Any]:
    source = cfg.data.source or (None if cfg.data.url else str(default_multi30k_source() or ""))
    key: dict[str, Any] = {"source": str(Path(source).resolve()) if source else None, "url": cfg.data.url,
                           "langs": sorted(cfg.data.langs), "splits": sorted(cfg.data.splits)}
    if cfg.data.dataset != "multi30k" or cfg.data.params:  # Multi30k keeps the key it always had
        key.update(dataset=cfg.data.dataset, params=cfg.data.params)
    return key


def stage_jobs(base: ExperimentConfig, outputs: list[MethodOutputs], runner: StageRunner, announce: Announce,
               progress: bool, prepared: StageResult) -> list[StageJob]:
    """Every run's distill (or baseline set-up), then every evaluate, then every calibrate: the study's order."""
    jobs: list[StageJob] = []
    upstream: dict[int, int] = {}
    for index, out in enumerate(outputs):
        if out.method.losses:
            upstream[index] = len(jobs)
            jobs.append(_distill_job(base, out, runner, announce, progress, index))
        elif out.method.baseline:
            upstream[index] = len(jobs)
            jobs.append(_baseline_job(base, out, runner, announce, progress, index))
    evaluated: dict[int, int] = {}
    for index, out in enumerate(outputs):
        evaluated[index] = len(jobs)
        needs = [upstream[index]] if index in upstream else []
        jobs.append(_evaluate_job(base, out, runner, announce, progress, prepared, index, needs))
    for index, out in enumerate(outputs):
        jobs.append(_calibrate_job(base, out, runner, announce, index, evaluated[index]))
    return jobs


def job_output(out: MethodOutputs, result: StageResult) -> None:
    """Record where a finished stage of ``out`` put its outputs."""
    if result.stage == "distill":
        out.model_dir, out.distill_info = result.folder / "model", result.info
    elif result.stage == "baseline":
        out.baseline_params = {**out.method.params, **dict(result.info.get("params") or {})}
    elif result.stage == "evaluate":
        out.eval_dir = result.folder / "eval"
    elif result.stage == "calibrate":
        out.calibration_dir = result.folder / "calibration"


def _reported(result: StageResult, announce: Announce, what: str) -> StageResult:
    if result.reused:
        announce(f"{what}: reused")
    return result


def _distill_config(base: ExperimentConfig, out: MethodOutputs) -> ExperimentConfig:
    cfg = copy.deepcopy(base)
    cfg.distill.losses = copy.deepcopy(out.method.losses)
    cfg.seed = out.seed if out.seed is not None else base.seed
    cfg.seeds = []
    cfg.distill.max_pairs = out.pairs
    return cfg


def _distill_job(base: ExperimentConfig, out: MethodOutputs, runner: StageRunner, announce: Announce, progress: bool,
                 run: int) -> StageJob:
    cfg = _distill_config(base, out)
    distill_key = {k: v for k, v in keyed_fields(cfg.distill).items()
                   if k not in ("teacher_cache", "log_with")}  # where and who watches, not what
    key = {"data": data_key(base), "seed": cfg.seed, "models": cfg.models, "distill": distill_key}

    def build_stage(folder: Path) -> dict[str, Any]:
        from clir_calib.distill import distill

        model = folder / "model"
        if (model / "result.json").is_file():  # finished, but the marker was not written
            from clir_calib.stored import read_json

            return dict(read_json(model / "result.json", "run `clir-calib run --force distill`", expect=dict))
        partial = model.is_dir() and any(model.iterdir())
        announce(f"distill {out.label}: {'resuming' if partial else 'training'} on {cfg.distill.lang} bitext "
                 f"({cfg.distill.max_pairs or 'all'} pairs, seed {cfg.seed})")
        result = distill(cfg, model, resume=True, progress=progress)
        return {k: v for k, v in vars(result).items() if k != "run_dir"}

    def call(needed: list[StageResult]) -> StageResult:
        return _reported(runner.run("distill", out.label, key, build_stage), announce, f"distill {out.label}")

    return StageJob(f"distill {out.label}", call, run=run, accelerated=True)


def _baseline_job(base: ExperimentConfig, out: MethodOutputs, runner: StageRunner, announce: Announce,
                  progress: bool, run: int) -> StageJob:
    method = out.method
    assert method.baseline is not None
    key = {"data": data_key(base), "seed": base.seed, "baseline": method.baseline, "params": method.params,
           "lang": base.distill.lang}

    def build_stage(folder: Path) -> dict[str, Any]:
        from clir_calib import plugins
        from clir_calib.baselines import BaselinePreparation

        announce(f"baseline {method.name}: preparing {method.baseline}")
        baseline = plugins.BASELINES.get(str(method.baseline))(**method.params)
        context = BaselinePreparation(
            prepared=Path(base.data.prepared), langs=[base.distill.lang], out=folder, seed=base.seed,
            device=base.device, progress=progress, cache_dir=Path(base.output_dir) / "baseline-cache",
        )
        return {"params": baseline.prepare(context)}

    def call(needed: list[StageResult]) -> StageResult:
        return _reported(runner.run("baseline", out.label, key, build_stage), announce, f"baseline {method.name}")

    return StageJob(f"baseline {out.label}", call, run=run)


def evaluate_config(base: ExperimentConfig, out: MethodOutputs, upstream: StageResult | None) -> ExperimentConfig:
    cfg = copy.deepcopy(base)
    ev = cfg.evaluate
    ev.system = out.label + out.marker
    ev.documents = str(upstream.folder / "model") if upstream is not None and upstream.stage == "distill" else None
    ev.baseline = out.method.baseline
    ev.params = {**out.method.params, **dict(upstream.info.get("params") or {})} \
        if out.method.baseline and upstream is not None else {}
    ev.calibrator = None
    if out.method.queries == "student":  # e.g. `none` when the teacher is English-only: e5 on both sides
        cfg.models.teacher = copy.deepcopy(cfg.models.student)
    return cfg


def _evaluate_job(base: ExperimentConfig, out: MethodOutputs, runner: StageRunner, announce: Announce, progress: bool,
                  prepared: StageResult, run: int, needs: list[int]) -> StageJob:
    def call(needed: list[StageResult]) -> StageResult:
        from clir_calib.evaluation.evaluate import run_evaluation
        from clir_calib.evaluation.outputs import OUTPUTS_VERSION

        upstream = needed[0] if needed else None
        cfg = evaluate_config(base, out, upstream)
        keys = [prepared.key, *([upstream.key] if upstream is not None else [])]
        key = {"upstream": keys, "teacher": cfg.models.teacher, "student": cfg.models.student,
               "evaluate": {k: v for k, v in vars(cfg.evaluate).items() if k not in {"index_dir", "documents"}},
               "outputs": OUTPUTS_VERSION}

        def build_stage(folder: Path) -> dict[str, Any]:
            announce(f"evaluate {out.label}: {', '.join(cfg.evaluate.langs)} on {', '.join(cfg.evaluate.splits)}")
            summary = run_evaluation(cfg, folder / "eval", overwrite=True, progress=progress)
            return {"elapsed_s": summary.get("elapsed_s")}

        return _reported(runner.run("evaluate", out.label, key, build_stage), announce, f"evaluate {out.label}")

    return StageJob(f"evaluate {out.label}", call, needs, run=run, accelerated=True)


def _calibrate_job(base: ExperimentConfig, out: MethodOutputs, runner: StageRunner, announce: Announce, run: int,
                   evaluated: int) -> StageJob:
    def call(needed: list[StageResult]) -> StageResult:
        from clir_calib.evaluation.outputs import evaluation_inputs
        from clir_calib.transfer import outputs as transfer_outputs
        from clir_calib.transfer.outputs import write_transfer
        from clir_calib.transfer.zero_shot import calibrate_from_config

        evaluation = needed[0]
        eval_dir = evaluation.folder / "eval"
        key = {"evaluate": evaluation.key, "calibrate": base.calibrate, "bins": base.evaluate.bins,
               "depth": base.evaluate.pointwise_depth,  # and the calibrators bootstrapped for the report's intervals:
               "bootstrapped": sorted(set(base.report.headline_calibrators.values())),
               "outputs": transfer_outputs.OUTPUTS_VERSION}

        def build_stage(folder: Path) -> dict[str, Any]:
            announce(f"calibrate {out.label}: fit on {base.calibrate.fit_lang}/{base.calibrate.fit_split}")
            result = calibrate_from_config(base, eval_dir)
            write_transfer(result, folder / "calibration", config=base, overwrite=True,
                           diagrams=base.calibrate.diagrams, inputs=evaluation_inputs(eval_dir))
            return {"calibrators": sorted({name for _, name in result.calibrators})}

        return _reported(runner.run("calibrate", out.label, key, build_stage), announce, f"calibrate {out.label}")

    return StageJob(f"calibrate {out.label}", call, [evaluated], run=run)
