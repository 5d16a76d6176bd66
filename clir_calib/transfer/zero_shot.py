"""Zero-shot calibration transfer: fit calibrators where labels exist, apply them unchanged elsewhere.

For each task, every calibrator is fitted on one *fit* set (by default the val split of the
language seen in distillation) of an ``evaluate`` output folder, and applied unchanged to the
*target* sets (by default test_2016_flickr of every language). Each calibrator is judged in the
view it models, as ``evaluate --calibrator`` judges it:

* listwise: top-1 confidence against top-1 correctness (one pair per query); fitted on all
  retrieved candidates of each query;
* pointwise: the top-``depth`` (query, document) pairs per query; fitted on the same pairs.

"Before" is the ``identity`` calibrator in the same view, read exactly as ``evaluate`` read the raw scores
(its temperature and sigmoid, from the folder's ``summary.json``). The *transfer gap* of a calibrator on an unseen language is its ECE there minus its ECE
on the seen language's target split (same task, same split): positive means the mapping holds
worse on the language it never saw.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clir_calib.calibrators import Calibrator, fit_calibrator, refused_fit
from clir_calib.config import check_languages, check_splits
from clir_calib.errors import ConfigError, DataError
from clir_calib.evaluation.views import calibrated_view
from clir_calib.metrics.calibration import CalibrationReport
from clir_calib.retrieval.scored import ScoredRun
from clir_calib.transfer.folder_facts import (
    bootstrap_settings,
    check_evaluated,
    check_fit_is_not_target,
    default_targets,
    ece_samples,
    evaluated_entries,
    missing_entry,
    raw_view_parameters,
    raw_view_settings,
)

log = logging.getLogger(__name__)
UNSTATED = "the evaluate folder states no mapping of its scores to probabilities for it"


@dataclass(frozen=True)
class ScoredSet:
    """Where one scored run lives in an evaluate folder."""

    task: str
    lang: str
    split: str

    def path(self, eval_dir: Path) -> Path:
        return eval_dir / self.task / self.lang / self.split / "scored.npz"

    def label(self) -> str:
        return f"{self.task}/{self.lang}/{self.split}"


@dataclass
class TransferRow:
    """One calibrator on one set: reports before (identity, same view) and after calibration."""

    calibrator: str
    view: str
    task: str
    lang: str
    split: str
    role: str  # "fit" (in-sample), "seen" (fit language, target split) or "unseen"
    before: CalibrationReport | None  # None: the folder states no raw mapping for this view (an imported run)
    after: CalibrationReport
    gap: dict[str, float] | None = None  # after - seen, per ECE binning (unseen rows only)
    gap_before: dict[str, float] | None = None  # the same for the raw scores
    after_samples: Any = None  # ECE-w after, on evaluate's bootstrap draws (bootstrapped calibrators only)

    def key(self) -> tuple[str, str, str, str]:
        return (self.task, self.calibrator, self.lang, self.split)


@dataclass
class TransferResult:
    """Everything :func:`calibrate_transfer` measured, plus the fitted calibrators by (task, name)."""

    fit_lang: str
    fit_split: str
    target_langs: list[str]
    target_splits: list[str]
    tasks: list[str]
    bins: int
    depth: int
    rows: list[TransferRow]
    calibrators: dict[tuple[str, str], Calibrator]
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # thin evidence: said in the outputs and the report
    adaptation: Any = None  # an AdaptationResult when adapters or bounds were asked for


def calibration_of(calibrator: Calibrator, run: ScoredRun, depth: int, bins: int) -> CalibrationReport:
    """The calibration report of ``calibrator`` on ``run`` in the view it models, exactly as
    ``evaluate --calibrator`` measures it (:func:`clir_calib.evaluation.views.calibrated_view`)."""
    return calibrated_view(run, calibrator, depth).report(bins)


def calibrate_transfer(
    eval_dir: str | Path,
    calibrators: Sequence[str],
    fit_lang: str = "de",
    fit_split: str = "val",
    target_langs: Sequence[str] | None = None,
    target_splits: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    bins: int = 15,
    depth: int = 10,
    raw: Mapping[str, float] | None = None,
    adaptation: Mapping[str, Any] | None = None,
    score_fit_split: bool = False,
    min_fit_queries: int = 50,
    bootstrap_calibrators: Sequence[str] = (),
) -> TransferResult:
    """Fit each calibrator per task on the fit set and measure it, unchanged, on every target set.

    :param eval_dir: an ``evaluate`` output folder (``{task}/{lang}/{split}/scored.npz``)
    :param tasks: tasks to use; None = every task whose fit set is in ``eval_dir``
    :param params: per calibrator name, its parameters (declared by the calibrator)
    :param depth: pointwise view: top pairs per query (as ``evaluate.pointwise_depth``)
    :param target_langs: None or empty = every language the folder has; ``target_splits``: likewise, every evaluated split
        but the fit split (a target equal to the fit set is refused unless ``score_fit_split``)
    :param raw: how raw scores read as probabilities ("before"): ``temperature``, ``scale``, ``bias``;
        None = as ``evaluate`` read them (the folder's ``summary.json``)
    :param min_fit_queries: fewer labelled fit queries give a warning in ``result.warnings``
    :param bootstrap_calibrators: these calibrators' ECE-w is also computed on ``evaluate``'s bootstrap draws
        (``row.after_samples``), for seed-level intervals of calibrated views
    :param adaptation: keyword arguments of :func:`clir_calib.transfer.adaptation.adapt_transfer`
        (``adapters``, ``bounds``, ...): label-free adapters and labelled bounds for every target set
    """
    from clir_calib.plugins import CALIBRATORS, chosen_components

    root = Path(eval_dir)
    if not root.is_dir():
        raise DataError(f"evaluate folder {root} not found; run 'clir-calib evaluate' first")
    target_langs, target_splits = default_targets(root, fit_lang, fit_split, target_langs, target_splits)
    check_languages(list(dict.fromkeys([fit_lang, *target_langs])))  # the fit language may be a target too
    check_splits(list(dict.fromkeys([fit_split, *target_splits])))
    check_fit_is_not_target(fit_lang, fit_split, target_langs, target_splits, score_fit_split)
    if fit_split == "train":
        raise ConfigError("calibrators are fitted on an evaluated split (the training bitext is never evaluated), "
                          "not 'train'; use --fit-split val (the default)")
    check_evaluated(root, target_langs, target_splits)
    if not calibrators:
        raise ConfigError("no calibrators named; set calibrate.calibrators (e.g. identity,temperature,platt)")
    if bins < 1 or depth < 1:
        raise ConfigError(f"bins and depth must be at least 1, got {bins} and {depth}")
    classes = chosen_components(CALIBRATORS.get, calibrators, params, "calibrate.params", "calibrator")
    params = dict(params or {})
    raw_params: dict[str, float | None] = dict(raw) if raw is not None else raw_view_settings(root)
    langs = [fit_lang, *[lang for lang in dict.fromkeys(target_langs) if lang != fit_lang]]
    chosen = _tasks(root, tasks, fit_lang, fit_split)

    rows: list[TransferRow] = []
    fitted: dict[tuple[str, str], Calibrator] = {}
    skipped: list[dict[str, str]] = []
    warnings: list[str] = []
    draws = bootstrap_settings(root) if bootstrap_calibrators else None

    loaded: list[tuple[str, ScoredSet, ScoredRun, dict[ScoredSet, ScoredRun], list[dict[str, str]]]] = []
    for task in chosen:  # every input read (and refused) before any work starts
        fit_set = ScoredSet(task, fit_lang, fit_split)
        fit_run = _load(root, fit_set)
        labelled = int((fit_run.n_relevant > 0).sum())
        if labelled < min_fit_queries:
            warnings.append(f"{fit_set.label()}: calibrators fitted on {labelled} labelled queries (< {min_fit_queries}); "
                            "their numbers are thin evidence")
            log.warning(warnings[-1])
        targets = [ScoredSet(task, lang, split) for split in dict.fromkeys(target_splits) for lang in langs]
        target_runs: dict[ScoredSet, ScoredRun] = {}
        missing = []
        for target in targets:
            if target.path(root).is_file():
                target_runs[target] = _load(root, target)
            else:
                missing.append({"set": target.label(), "why": f"no {target.path(root)}"})
        if not target_runs:
            raise DataError(f"no target scored runs for task {task} in {root}; run 'clir-calib evaluate' on "
                            f"{', '.join(target_splits)}")
        loaded.append((task, fit_set, fit_run, target_runs, missing))

    def fit_and_measure() -> None:
        """Each calibrator fitted on the fit set and measured, unchanged, on every target set."""
        for task, fit_set, fit_run, target_runs, missing in loaded:
            skipped.extend(missing)
            identity = {view: CALIBRATORS.get("identity")(view=view, **stated) for view in ("listwise", "pointwise")
                        if (stated := raw_view_parameters(raw_params, view)) is not None}
            for raw_calibrator in identity.values():
                fit_calibrator(raw_calibrator, fit_run, depth, {})
            for name, cls in classes.items():
                calibrator = cls(**dict(params.get(name, {})))
                fitted_on = {"eval_dir": str(root), "task": task, "lang": fit_lang, "split": fit_split,
                             "depth": depth, "queries": len(fit_run.qids)}
                if (refused := refused_fit(calibrator, fit_run, depth, fitted_on)) is not None:  # said, never scored
                    skipped.append({"set": f"{task}/{fit_lang}/{fit_split}", "why": f"{name}: {refused}"})
                    continue
                before_calibrator = identity.get(calibrator.model_view)
                if name == "identity" and before_calibrator is None:
                    skipped.append({"set": f"{task}/{fit_lang}/{fit_split}",
                                    "why": f"identity: no raw {calibrator.model_view} view ({UNSTATED})"})
                    continue
                fitted[(task, name)] = calibrator
                sets = [(fit_set, fit_run, "fit"), *[
                    (target, run, "seen" if target.lang == fit_lang else "unseen") for target, run in target_runs.items()
                ]]
                for scored_set, run, role in sets:
                    after = calibrated_view(run, calibrator, depth)
                    samples = (ece_samples(after.confidences, after.correct, bins, *draws)
                               if draws is not None and name in bootstrap_calibrators else None)
                    rows.append(TransferRow(
                        calibrator=name, view=calibrator.model_view, task=task, lang=scored_set.lang,
                        split=scored_set.split, role=role,
                        before=None if before_calibrator is None else calibration_of(before_calibrator, run, depth, bins),
                        after=after.report(bins), after_samples=samples,
                    ))
    options = dict(adaptation or {})
    adaptation_result = None
    if options.get("adapters") or options.get("bounds"):
        from clir_calib.transfer.adaptation import adapt_transfer

        pairs_to_adapt = [(lang, split) for split in dict.fromkeys(target_splits) for lang in langs]
        adapt_tasks = [t for t in chosen if options.get("tasks") is None or t in options["tasks"]]
        adaptation_result = adapt_transfer(
            root, adapt_tasks, {name: (cls, dict(params.get(name, {}))) for name, cls in classes.items() if name != "identity"},
            fit_lang, fit_split, pairs_to_adapt, list(options.get("adapters") or []), list(options.get("bounds") or []),
            depth, bins, adapter_params=options.get("adapter_params"),
            fewshot_sizes=tuple(options.get("fewshot_sizes") or (10, 50, 200)),
            fewshot_draws=int(options.get("fewshot_draws", 20)), resamples=int(options.get("bootstrap", 200)),
            seed=int(options.get("seed", 0)), first=fit_and_measure,  # here, while helpers start on the bounds
        )
    else:
        fit_and_measure()
    _add_gaps(rows)
    result = TransferResult(fit_lang, fit_split, langs, list(dict.fromkeys(target_splits)), chosen, bins, depth,
                            rows, fitted, skipped, warnings=warnings)
    result.adaptation = adaptation_result
    return result


GAP_METRICS = ("ece_equal_width", "ece_equal_mass")


def _add_gaps(rows: list[TransferRow]) -> None:
    seen = {(r.task, r.calibrator, r.split): r for r in rows if r.role == "seen"}
    for row in rows:
        reference = seen.get((row.task, row.calibrator, row.split))
        if row.role != "unseen" or reference is None:
            continue
        row.gap = {m: getattr(row.after, m) - getattr(reference.after, m) for m in GAP_METRICS}
        if row.before is not None and reference.before is not None:
            row.gap_before = {m: getattr(row.before, m) - getattr(reference.before, m) for m in GAP_METRICS}


def _tasks(root: Path, tasks: Sequence[str] | None, fit_lang: str, fit_split: str) -> list[str]:
    known = list(dict.fromkeys(e[0] for e in evaluated_entries(root)))
    if tasks:  # a named task the folder lacks fails when its fit set is read, naming the missing file
        return list(dict.fromkeys(tasks))
    found = [task for task in known if ScoredSet(task, fit_lang, fit_split).path(root).is_file()]
    if not found:
        raise DataError(f"{root} has no scored run for the fit set {fit_lang}/{fit_split}: "
                        f"{missing_entry(root, fit_lang, fit_split)}")
    return found


def _load(root: Path, scored_set: ScoredSet) -> ScoredRun:
    path = scored_set.path(root)
    if not path.is_file():
        raise DataError(f"no scored run for {scored_set.label()} in {root}: "
                        f"{missing_entry(root, scored_set.lang, scored_set.split)}")
    log.info("loading %s", path)
    return ScoredRun.load(path)


def calibrate_from_config(cfg: Any, eval_dir: str | Path) -> TransferResult:
    """:func:`calibrate_transfer` with the ``calibrate`` section of an :class:`ExperimentConfig`;
    bins and the pointwise depth come from ``evaluate`` so the numbers match ``evaluate``'s."""
    section = cfg.calibrate
    return calibrate_transfer(
        eval_dir, section.calibrators, fit_lang=section.fit_lang, fit_split=section.fit_split,
        target_langs=section.target_langs, target_splits=section.target_splits, tasks=section.tasks,
        params=section.params, bins=cfg.evaluate.bins, depth=cfg.evaluate.pointwise_depth,
        score_fit_split=section.score_fit_split, min_fit_queries=section.min_fit_queries,
        bootstrap_calibrators=sorted(set(cfg.report.headline_calibrators.values())),
        adaptation={"adapters": section.adapters, "bounds": section.bounds, "adapter_params": section.adapter_params,
                    "tasks": section.adapt_tasks,
                    "fewshot_sizes": section.fewshot_sizes, "fewshot_draws": section.fewshot_draws,
                    "bootstrap": section.bootstrap, "seed": cfg.seed},
    )
