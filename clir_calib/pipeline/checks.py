"""A study's checks before and right after ``prepare``: what can be refused before hours of work."""

from __future__ import annotations

from clir_calib.config import ExperimentConfig
from clir_calib.errors import ConfigError
from clir_calib.params import check_fields


def check_methods(cfg: ExperimentConfig) -> None:
    """Unique method names, known losses and baselines: fail before any work starts."""
    from clir_calib import plugins

    names = [m.name for m in cfg.methods]
    if not names:
        raise ConfigError("the config lists no methods; add at least {name: none} under methods")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"method name {duplicates[0]!r} appears twice under methods; names must be unique")
    for method in cfg.methods:
        check_fields(method, f"method {method.name!r}")
        if method.losses and method.baseline:
            raise ConfigError(f"method {method.name!r} has both losses and a baseline; give one of them")
        if method.losses and method.queries == "student":
            raise ConfigError(f"method {method.name!r} is distilled, so its teacher encodes the queries; drop "
                              "queries: student (it is for undistilled systems such as none)")
        for spec in method.losses:
            plugins.ALIGNMENT_LOSSES.get(spec.name).resolve_params(spec.params)
        if method.baseline:
            plugins.BASELINES.get(method.baseline).resolve_params(method.params)


def check_against_prepared(cfg: ExperimentConfig) -> None:
    """Unknown tasks, languages or splits in ``evaluate`` fail right after ``prepare``, naming what
    the prepared data has, not after hours of distillation. Unset ones are filled from the data, and languages
    take the one order of every table and figure: the seen language first, then the config's order."""
    from clir_calib.evaluation.plan import planned_entries, resolve_entries
    from clir_calib.pipeline.figures import languages
    from clir_calib.transfer.folder_facts import resolve_targets

    planned_entries(resolve_entries(cfg.evaluate, cfg.data.prepared), cfg.data.prepared)
    resolve_targets(cfg.calibrate, cfg.evaluate)
    cfg.evaluate.langs = languages(cfg, cfg.evaluate.langs)
    cfg.calibrate.target_langs = languages(cfg, cfg.calibrate.target_langs)
