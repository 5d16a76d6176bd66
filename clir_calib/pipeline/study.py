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
from clir_calib.params import keyed_fields
from clir_calib.pipeline.checks import check_against_prepared, check_methods
from clir_calib.pipeline.results import TARGET_BITEXT_MARK, MethodOutputs, StudyResult
from clir_calib.pipeline.stages import StageRunner

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
    root = Path(cfg.output_dir)
    runner = StageRunner(root, STAGES, force, inputs=[*config_inputs(cfg), str(default_multi30k_source() or "")])
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
    for out in outputs:
        if out.method.losses:
            _distill(base, out, runner, announce, progress)
        elif out.method.baseline:
            _prepare_baseline(base, out, runner, announce, progress)
    for out in outputs:
        _evaluate(base, out, runner, announce, progress)
    for out in outputs:
        _calibrate(base, out, runner, announce)

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


def _bitext_marker(cfg: ExperimentConfig, method: MethodConfig) -> str:
    """:data:`TARGET_BITEXT_MARK` for a baseline that uses bitext of languages other than the distillation
    language (its rows are not zero-shot), else ``""``."""
    from clir_calib import plugins

    if not method.baseline:
        return ""
    baseline = plugins.BASELINES.get(method.baseline)(**method.params)
    return TARGET_BITEXT_MARK if baseline.uses_target_bitext(cfg.distill.lang) else ""


def _data_key(cfg: ExperimentConfig) -> dict[str, Any]:
    source = cfg.data.source or (None if cfg.data.url else str(default_multi30k_source() or ""))
    key: dict[str, Any] = {"source": str(Path(source).resolve()) if source else None, "url": cfg.data.url,
                           "langs": sorted(cfg.data.langs), "splits": sorted(cfg.data.splits)}
    if cfg.data.dataset != "multi30k" or cfg.data.params:  # Multi30k keeps the key it always had
        key.update(dataset=cfg.data.dataset, params=cfg.data.params)
    return key


def _prepare(cfg: ExperimentConfig, runner: StageRunner, announce: Callable[[str], None]) -> Path:
    from clir_calib.data import prepare_data

    name = cfg.data.dataset

    def build_stage(folder: Path) -> dict[str, Any]:
        announce(f"prepare: {name} -> bitext and retrieval tasks")
        summary = prepare_data(folder / name, config=cfg, overwrite=True)
        return {"notes": list(summary.notes)}

    result = runner.run("prepare", name, _data_key(cfg), build_stage)
    if result.reused:
        announce("prepare: reused")
    return result.folder / name


def _distill_config(base: ExperimentConfig, out: MethodOutputs) -> ExperimentConfig:
    cfg = copy.deepcopy(base)
    cfg.distill.losses = copy.deepcopy(out.method.losses)
    cfg.seed = out.seed if out.seed is not None else base.seed
    cfg.seeds = []
    cfg.distill.max_pairs = out.pairs
    return cfg


def _distill(
    base: ExperimentConfig, out: MethodOutputs, runner: StageRunner, announce: Callable[[str], None], progress: bool
) -> None:
    from clir_calib.distill import distill

    cfg = _distill_config(base, out)
    distill_key = {k: v for k, v in keyed_fields(cfg.distill).items()
                   if k not in ("teacher_cache", "log_with")}  # where and who watches, not what
    key = {"data": _data_key(base), "seed": cfg.seed, "models": cfg.models, "distill": distill_key}

    def build_stage(folder: Path) -> dict[str, Any]:
        model = folder / "model"
        if (model / "result.json").is_file():  # finished, but the marker was not written
            from clir_calib.stored import read_json

            return dict(read_json(model / "result.json", "run `clir-calib run --force distill`", expect=dict))
        partial = model.is_dir() and any(model.iterdir())
        announce(f"distill {out.label}: {'resuming' if partial else 'training'} on {cfg.distill.lang} bitext "
            f"({cfg.distill.max_pairs or 'all'} pairs, seed {cfg.seed})")
        result = distill(cfg, model, resume=True, progress=progress)
        return {k: v for k, v in vars(result).items() if k != "run_dir"}

    result = runner.run("distill", out.label, key, build_stage)
    if result.reused:
        announce(f"distill {out.label}: reused")
    out.model_dir = result.folder / "model"
    out.distill_info = result.info


def _prepare_baseline(
    base: ExperimentConfig, out: MethodOutputs, runner: StageRunner, announce: Callable[[str], None], progress: bool
) -> None:
    from clir_calib import plugins
    from clir_calib.baselines import BaselinePreparation

    method = out.method
    assert method.baseline is not None
    baseline_cls = plugins.BASELINES.get(method.baseline)
    key = {"data": _data_key(base), "seed": base.seed, "baseline": method.baseline, "params": method.params,
           "lang": base.distill.lang}

    def build_stage(folder: Path) -> dict[str, Any]:
        announce(f"baseline {method.name}: preparing {method.baseline}")
        baseline = baseline_cls(**method.params)
        context = BaselinePreparation(
            prepared=Path(base.data.prepared), langs=[base.distill.lang], out=folder, seed=base.seed,
            device=base.device, progress=progress, cache_dir=Path(base.output_dir) / "baseline-cache",
        )
        return {"params": baseline.prepare(context)}

    result = runner.run("baseline", out.label, key, build_stage)
    if result.reused:
        announce(f"baseline {method.name}: reused")
    out.baseline_params = {**method.params, **dict(result.info.get("params") or {})}


def _evaluate_config(base: ExperimentConfig, out: MethodOutputs) -> ExperimentConfig:
    cfg = copy.deepcopy(base)
    ev = cfg.evaluate
    ev.system = out.label + out.marker
    ev.documents = str(out.model_dir) if out.model_dir is not None else None
    ev.baseline = out.method.baseline
    ev.params = dict(out.baseline_params) if out.method.baseline else {}
    ev.calibrator = None
    if out.method.queries == "student":  # e.g. `none` when the teacher is English-only: e5 on both sides
        cfg.models.teacher = copy.deepcopy(cfg.models.student)
    return cfg


def _evaluate(
    base: ExperimentConfig, out: MethodOutputs, runner: StageRunner, announce: Callable[[str], None], progress: bool
) -> None:
    from clir_calib.evaluation.evaluate import run_evaluation
    from clir_calib.evaluation.outputs import OUTPUTS_VERSION

    cfg = _evaluate_config(base, out)
    upstream = [r.key for r in runner.results if r.label == out.label or r.stage == "prepare"]
    key = {"upstream": upstream, "teacher": cfg.models.teacher, "student": cfg.models.student,
           "evaluate": {k: v for k, v in vars(cfg.evaluate).items() if k not in {"index_dir", "documents"}},
           "outputs": OUTPUTS_VERSION}

    def build_stage(folder: Path) -> dict[str, Any]:
        announce(f"evaluate {out.label}: {', '.join(cfg.evaluate.langs)} on {', '.join(cfg.evaluate.splits)}")
        summary = run_evaluation(cfg, folder / "eval", overwrite=True, progress=progress)
        return {"elapsed_s": summary.get("elapsed_s")}

    result = runner.run("evaluate", out.label, key, build_stage)
    if result.reused:
        announce(f"evaluate {out.label}: reused")
    out.eval_dir = result.folder / "eval"


def _calibrate(base: ExperimentConfig, out: MethodOutputs, runner: StageRunner, announce: Callable[[str], None]) -> None:
    from clir_calib.evaluation.outputs import evaluation_inputs
    from clir_calib.transfer import outputs as transfer_outputs
    from clir_calib.transfer.outputs import write_transfer
    from clir_calib.transfer.zero_shot import calibrate_from_config

    eval_dir = out.eval_dir
    assert eval_dir is not None
    evaluate_key = next(r.key for r in reversed(runner.results) if r.stage == "evaluate" and r.label == out.label)
    key = {"evaluate": evaluate_key, "calibrate": base.calibrate, "bins": base.evaluate.bins,
           "depth": base.evaluate.pointwise_depth,  # and the calibrators bootstrapped for the report's intervals:
           "bootstrapped": sorted(set(base.report.headline_calibrators.values())),
           "outputs": transfer_outputs.OUTPUTS_VERSION}

    def build_stage(folder: Path) -> dict[str, Any]:
        announce(f"calibrate {out.label}: fit on {base.calibrate.fit_lang}/{base.calibrate.fit_split}")
        result = calibrate_from_config(base, eval_dir)
        write_transfer(result, folder / "calibration", config=base, overwrite=True, diagrams=base.calibrate.diagrams,
                       inputs=evaluation_inputs(eval_dir))
        return {"calibrators": sorted({name for _, name in result.calibrators})}

    result = runner.run("calibrate", out.label, key, build_stage)
    if result.reused:
        announce(f"calibrate {out.label}: reused")
    out.calibration_dir = result.folder / "calibration"

