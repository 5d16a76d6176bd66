"""Label-free calibration transfer and its bounds, measured on every target set.

For each task, calibrator and target (language, split): each **adapter** is fitted on the seen
language's fit set (scores and labels) and the target's *scores* (:func:`target_scores` reads no
labels), the calibrator is fitted on the seen language's (adapter-mapped) scores, and the adapted
calibrator is judged on the target in the calibrator's view. Two **bounds** use target labels on
purpose, to show how much room there was:

* ``oracle``: the calibrator fitted on the target language's own labelled fit split;
* ``fewshot-K``: fitted on K labelled target queries of that split, mean and sd over draws.

The share of the transfer gap an adapter closes is ``(ECE_none - ECE_adapter) / (ECE_none - ECE_oracle)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.adapters.base import (
    AdaptedCalibrator,
    SourceScores,
    TargetScores,
    TransferAdapter,
    target_scores,
)
from clir_calib.config import BOUNDS
from clir_calib.errors import ClirCalibError, ConfigError, DataError
from clir_calib.evaluation.bootstrap import percentile_interval, resample_counts
from clir_calib.evaluation.views import calibrated_view
from clir_calib.metrics.weighted import Pairs, weighted_metrics
from clir_calib.retrieval.scored import ScoredRun

#: numbers of each adaptation row (ECE-w also gets a bootstrap interval)
ADAPTATION_METRICS = ("ece_equal_width", "ece_equal_mass", "smece", "brier", "nll")
#: few-shot draws are many: their rows leave out smECE, the slowest estimator
FEWSHOT_METRICS = ("ece_equal_width", "ece_equal_mass", "brier", "nll")


@dataclass
class AdaptationRow:
    """One calibrator on one target set after one adapter or bound (fewshot: mean and sd over draws)."""

    task: str
    calibrator: str
    view: str
    lang: str
    split: str
    method: str  # an adapter name, "oracle" or "fewshot-K"
    metrics: dict[str, float]
    low: float | None = None  # ECE-w bootstrap interval (adapters and oracle)
    high: float | None = None
    sd: dict[str, float] = field(default_factory=dict)  # fewshot: sd over draws
    draws: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class AdaptationResult:
    rows: list[AdaptationRow]
    adapted: dict[tuple[str, str, str, str, str], AdaptedCalibrator]  # (task, calibrator, adapter, lang, split)
    skipped: list[dict[str, str]]


def _with_scores(run: ScoredRun, scores: np.ndarray) -> ScoredRun:
    return ScoredRun(run.qids, run.doc_ids, scores.reshape(run.scores.shape).astype(np.float32), run.labels,
                     run.n_relevant)


def _subset(run: ScoredRun, rows: np.ndarray) -> ScoredRun:
    return ScoredRun([run.qids[i] for i in rows], [run.doc_ids[i] for i in rows], run.scores[rows], run.labels[rows],
                     run.n_relevant[rows])


def _measure(calibrator: Any, run: ScoredRun, depth: int, bins: int, resamples: int, seed: int,
             names: tuple[str, ...] = ADAPTATION_METRICS) -> tuple[dict[str, float], float | None, float | None]:
    view = calibrated_view(run, calibrator, depth)
    q, m = view.confidences.shape
    pairs = Pairs.per_query(view.confidences, view.correct)
    point = {k: float(v[0]) for k, v in weighted_metrics(pairs, np.ones((1, q)), bins, names).items()}
    if not resamples:
        return point, None, None
    weights = resample_counts(q, resamples, seed)
    samples = weighted_metrics(pairs, weights, bins, ("ece_equal_width",))["ece_equal_width"]
    interval = percentile_interval(point["ece_equal_width"], samples, 0.95)
    return point, interval.low, interval.high


def _overrides_source(adapter: TransferAdapter) -> bool:
    return type(adapter).source_transform is not TransferAdapter.source_transform


@dataclass
class _Target:
    """One (task, calibrator, target set) of :func:`adapt_transfer`: its rows and skips, in the order they are
    reported; ``adapt`` holds what its adapters need (None: nothing to adapt), ``bounds`` its job's index."""

    rows: list[AdaptationRow] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    adapt: tuple[Any, ...] | None = None
    bounds: int | None = None


def adapt_transfer(
    root: Path, tasks: list[str], calibrators: dict[str, tuple[type[Any], dict[str, Any]]], fit_lang: str,
    fit_split: str, targets: list[tuple[str, str]], adapters: list[str], bounds: list[str], depth: int, bins: int,
    adapter_params: dict[str, dict[str, Any]] | None = None, fewshot_sizes: tuple[int, ...] = (10, 50, 200),
    fewshot_draws: int = 20, resamples: int = 200, seed: int = 0, first: Callable[[], Any] | None = None,
) -> AdaptationResult:
    """Every adapter and bound for every (task, calibrator, target); see the module docstring.

    The bounds (hundreds of few-shot fits) are independent calls, shared with helper processes on spare cores
    (:func:`~clir_calib.shared_work.share_work`) while this process runs ``first`` (the caller's own work, such as
    :func:`~clir_calib.transfer.zero_shot.calibrate_transfer`'s) and fits the adapters.

    :param calibrators: name -> (calibrator class, its parameters)
    :param targets: (language, split) pairs to adapt to
    """
    from clir_calib.calibrators.files import refused_fit
    from clir_calib.plugins import TRANSFER_ADAPTERS, chosen_components
    from clir_calib.shared_work import share_work

    unknown = sorted(set(bounds) - set(BOUNDS))
    if unknown:
        raise ConfigError(f"unknown bound {unknown[0]!r} in calibrate.bounds; choose from {', '.join(BOUNDS)}")
    classes = chosen_components(TRANSFER_ADAPTERS.get, adapters, adapter_params, "calibrate.adapter_params", "adapter")
    if any(size < 1 for size in fewshot_sizes) or fewshot_draws < 1:
        raise ConfigError("calibrate.fewshot_sizes and calibrate.fewshot_draws must be positive")
    plan: list[_Target] = []
    jobs: list[BoundsJob] = []
    for task in tasks:
        source_run = ScoredRun.load(root / task / fit_lang / fit_split / "scored.npz")
        source = SourceScores(source_run.scores.astype(np.float64), source_run.labels.astype(np.int64))
        for name, (cls, cal_params) in calibrators.items():
            plain = cls(**cal_params)
            if (refused := refused_fit(plain, source_run, depth, {"task": task, "lang": fit_lang,
                                                                  "split": fit_split})) is not None:
                plan.append(_Target(skipped=[{"set": f"{task}/{fit_lang}/{fit_split}", "why": f"{name}: {refused}"}]))
                continue
            for lang, split in targets:
                path = root / task / lang / split / "scored.npz"
                if not path.is_file():
                    plan.append(_Target(skipped=[{"set": f"{task}/{lang}/{split}", "why": f"no {path}"}]))
                    continue
                judged = ScoredRun.load(path)  # labels used to *measure* only
                target = _Target(adapt=(task, name, cls, cal_params, plain, source_run, source, fit_lang, fit_split,
                                        lang, split, path, judged))
                if bounds:
                    target.bounds = len(jobs)
                    jobs.append(BoundsJob(task, name, cls, cal_params, plain.model_view, root, lang, split, fit_split,
                                          judged, tuple(bounds), depth, bins, fewshot_sizes, fewshot_draws, resamples,
                                          seed))
                plan.append(target)
    adapted: dict[tuple[str, str, str, str, str], AdaptedCalibrator] = {}

    def adapt_here() -> None:
        if first is not None:
            first()
        for target in plan:
            if target.adapt is not None:
                _adapt(target, classes, dict(adapter_params or {}), depth, bins, resamples, seed, adapted)

    found = share_work(run_bounds, jobs, first=adapt_here)
    rows: list[AdaptationRow] = []
    skipped: list[dict[str, str]] = []
    for target in plan:
        rows += target.rows
        skipped += target.skipped
        if target.bounds is not None:
            rows += found[target.bounds][0]
            skipped += found[target.bounds][1]
    return AdaptationResult(rows, adapted, skipped)


def _adapt(target: _Target, classes: dict[str, type[TransferAdapter]], params: dict[str, dict[str, Any]], depth: int,
           bins: int, resamples: int, seed: int,
           adapted: dict[tuple[str, str, str, str, str], AdaptedCalibrator]) -> None:
    """Each adapter for one (task, calibrator, target set): its row in ``target`` and its calibrator in ``adapted``."""
    from clir_calib.calibrators.files import fit_calibrator

    assert target.adapt is not None
    task, name, cls, cal_params, plain, source_run, source, fit_lang, fit_split, lang, split, path, judged = target.adapt
    unlabelled: TargetScores = target_scores(path)
    view = plain.model_view
    for adapter_name, adapter_cls in classes.items():
        adapter = adapter_cls(**dict(params.get(adapter_name, {})))
        if view not in adapter.views:
            target.skipped.append({"set": f"{task}/{lang}/{split}", "why": f"{adapter_name} does not serve {view} ({name})"})
            continue
        adapter.fit(source, unlabelled, view, depth)
        calibrator = plain
        if _overrides_source(adapter):
            flat, groups = source.flat()
            mapped = _with_scores(source_run, adapter.source_transform(flat, groups))
            try:
                calibrator = fit_calibrator(cls(**cal_params), mapped, depth,
                                            {"task": task, "lang": fit_lang, "split": fit_split,
                                             "adapter": adapter_name})
            except DataError as error:  # e.g. beta (cosine mapping) on scores the adapter moved
                target.skipped.append({"set": f"{task}/{lang}/{split}",
                                       "why": f"{name} cannot be fitted on {adapter_name}'s scores ({error})"})
                continue
        adapter.fit_to_calibrator(calibrator, source, unlabelled)
        wrapped = AdaptedCalibrator(calibrator, adapter, {"task": task, "lang": lang, "split": split})
        metrics, low, high = _measure(wrapped, judged, depth, bins, resamples, seed)
        target.rows.append(AdaptationRow(task, name, view, lang, split, adapter_name, metrics, low, high))
        adapted[(task, name, adapter_name, lang, split)] = wrapped


@dataclass
class BoundsJob:
    """The arguments of :func:`_bounds` for one (task, calibrator, target set): what a helper process needs."""

    task: str
    name: str
    cls: type[Any]
    cal_params: dict[str, Any]
    view: str
    root: Path
    lang: str
    split: str
    fit_split: str
    judged: ScoredRun
    bounds: tuple[str, ...]
    depth: int
    bins: int
    sizes: tuple[int, ...]
    draws: int
    resamples: int
    seed: int


def run_bounds(job: BoundsJob) -> tuple[list[AdaptationRow], list[dict[str, str]]]:
    """One job's bound rows and what it skipped (a module-level function: helper processes run it)."""
    skipped: list[dict[str, str]] = []
    rows = _bounds(job.task, job.name, job.cls, job.cal_params, job.view, job.root, job.lang, job.split,
                   job.fit_split, job.judged, list(job.bounds), job.depth, job.bins, job.sizes, job.draws,
                   job.resamples, job.seed, skipped)
    return rows, skipped


def _bounds(task: str, name: str, cls: type[Any], cal_params: dict[str, Any], view: str, root: Path, lang: str,
            split: str, fit_split: str, judged: ScoredRun, bounds: list[str], depth: int, bins: int,
            sizes: tuple[int, ...], draws: int, resamples: int, seed: int,
            skipped: list[dict[str, str]]) -> list[AdaptationRow]:
    from clir_calib.calibrators.files import fit_calibrator, refused_fit

    if not bounds:
        return []
    labelled_path = root / task / lang / fit_split / "scored.npz"
    if not labelled_path.is_file():
        skipped.append({"set": f"{task}/{lang}/{fit_split}", "why": "no labelled target split for the bounds"})
        return []
    labelled = ScoredRun.load(labelled_path)
    rows = []
    if "oracle" in bounds:
        oracle = cls(**cal_params)
        if (refused := refused_fit(oracle, labelled, depth, {"task": task, "lang": lang, "split": fit_split})):
            skipped.append({"set": f"{task}/{lang}/{fit_split}", "why": f"oracle {name}: {refused}"})
        else:
            metrics, low, high = _measure(oracle, judged, depth, bins, resamples, seed)
            rows.append(AdaptationRow(task, name, view, lang, split, "oracle", metrics, low, high))
    if "fewshot" in bounds:
        rng = np.random.default_rng(seed)
        for size in sizes:
            if size > len(labelled.qids):
                skipped.append({"set": f"{task}/{lang}/{fit_split}", "why": f"fewshot-{size}: only {len(labelled.qids)} queries"})
                continue
            found: list[dict[str, float]] = []
            for _ in range(draws):
                rows_drawn = np.sort(rng.choice(len(labelled.qids), size=size, replace=False))
                try:
                    fitted = fit_calibrator(cls(**cal_params), _subset(labelled, rows_drawn), depth, {})
                except (DataError, ClirCalibError, ValueError):
                    continue  # a draw without positives (or negatives) cannot be fitted
                found.append(_measure(fitted, judged, depth, bins, 0, seed, FEWSHOT_METRICS)[0])
            if not found:
                skipped.append({"set": f"{task}/{lang}/{fit_split}", "why": f"fewshot-{size}: no draw could be fitted"})
                continue
            mean = {k: float(np.mean([f[k] for f in found])) for k in FEWSHOT_METRICS}
            sd = {k: float(np.std([f[k] for f in found], ddof=1)) if len(found) > 1 else 0.0 for k in FEWSHOT_METRICS}
            rows.append(AdaptationRow(task, name, view, lang, split, f"fewshot-{size}", mean, sd=sd, draws=len(found)))
    return rows
