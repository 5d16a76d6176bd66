"""Which (task, language, split) entries an evaluation runs, and its settings checked before any work."""

from __future__ import annotations

from clir_calib.config import EvaluateConfig, check_languages
from clir_calib.errors import ConfigError
from clir_calib.params import check_fields


def check_evaluate_config(ev: EvaluateConfig) -> None:
    """One-line errors for settings that cannot work, before any model is loaded: each field against its
    declared rules (:func:`clir_calib.params.check_fields`), then what no single field can say."""
    check_fields(ev, "evaluate")
    check_languages(ev.langs)
    if len(set(ev.langs)) != len(ev.langs):
        repeated = next(lang for lang in ev.langs if ev.langs.count(lang) > 1)
        raise ConfigError(f"evaluate.langs names {repeated!r} twice; name each language once")


def resolve_entries(ev: EvaluateConfig, prepared: str) -> EvaluateConfig:
    """Fill empty ``langs``, ``splits`` and ``tasks`` with what the prepared data has (in place; returned), so
    the defaults follow the data and the saved config names what was evaluated."""
    from clir_calib.data.store import available_tasks

    have = available_tasks(prepared)
    if not have:
        raise ConfigError(f"{prepared} holds no prepared tasks; run `clir-calib prepare --out {prepared}` first")
    for field, position in (("tasks", 0), ("langs", 1), ("splits", 2)):
        if not getattr(ev, field):
            setattr(ev, field, list(dict.fromkeys(entry[position] for entry in have)))
    return ev


def planned_entries(ev: EvaluateConfig, prepared: str) -> tuple[list[tuple[str, str, str]], list[dict[str, str]]]:
    """The (task, lang, split) combinations to run, and those the prepared data lacks (with why).

    A task, language or split that the prepared data has nowhere is an error naming what it has (a typo, or
    a split not prepared); a combination it lacks (Multi30k has no cs in test_2017_flickr) is skipped.
    """
    from clir_calib.data.store import available_tasks

    resolve_entries(ev, prepared)
    have = available_tasks(prepared)
    checks = (("tasks", "task", ev.tasks, 0, "the prepared dataset's tasks"),
              ("langs", "language", ev.langs, 1, "add it with clir-calib prepare --langs ..."),
              ("splits", "split", ev.splits, 2, "add it with clir-calib prepare --splits ..."))
    for field, what, values, position, hint in checks:
        known = list(dict.fromkeys(entry[position] for entry in have))
        for value in values:
            if value not in known:
                raise ConfigError(f"unknown {what} {value!r} in evaluate.{field}; {prepared} has {', '.join(known)} "
                                  f"({hint})")
    planned, impossible = [], []
    for task in ev.tasks:
        for lang in ev.langs:
            for split in ev.splits:
                if (task, lang, split) in have:
                    planned.append((task, lang, split))
                else:
                    impossible.append({"task": task, "lang": lang, "split": split,
                                       "why": f"not in the prepared data (no {lang} {task} task on {split})"})
    if not planned:
        raise ConfigError("none of the requested task/language/split combinations is in the prepared data "
                          f"{prepared}; check evaluate.tasks, evaluate.langs and evaluate.splits")
    return planned, impossible
