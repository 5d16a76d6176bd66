"""Which (task, language, split) entries an evaluation runs, and its settings checked before any work."""

from __future__ import annotations

from clir_calib.config import PART_NAME, EvaluateConfig, check_languages, check_splits
from clir_calib.errors import ConfigError
from clir_calib.retrieval.search import BACKENDS


def check_evaluate_config(ev: EvaluateConfig) -> None:
    """One-line errors for settings that cannot work, before any model is loaded."""
    check_languages(ev.langs)
    check_splits(ev.splits)
    for task in ev.tasks:
        if not isinstance(task, str) or not PART_NAME.fullmatch(task):
            raise ConfigError(f"unknown task {task!r} in evaluate.tasks: a task name holds letters, digits and _ . - "
                              "(Multi30k: translation, description)")
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


def planned_entries(ev: EvaluateConfig, prepared: str) -> tuple[list[tuple[str, str, str]], list[dict[str, str]]]:
    """The (task, lang, split) combinations to run, and those the prepared data lacks (with why).

    A task, language or split that the prepared data has nowhere is an error naming what it has (a typo, or
    a split not prepared); a combination it lacks (Multi30k has no cs in test_2017_flickr) is skipped.
    """
    from clir_calib.data.store import available_tasks

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
