"""Which (task, language, split) entries an evaluation runs, and its settings checked before any work."""

from __future__ import annotations

from clir_calib.config import EVAL_SPLITS, TASKS, EvaluateConfig, check_languages, check_splits
from clir_calib.errors import ConfigError
from clir_calib.retrieval.search import BACKENDS


def check_evaluate_config(ev: EvaluateConfig) -> None:
    """One-line errors for settings that cannot work, before any model is loaded."""
    check_languages(ev.langs)
    check_splits(ev.splits, EVAL_SPLITS)
    for task in ev.tasks:
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r} in evaluate.tasks; choose from {', '.join(TASKS)}")
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


def planned_entries(ev: EvaluateConfig) -> tuple[list[tuple[str, str, str]], list[dict[str, str]]]:
    """The (task, lang, split) combinations to run, and those Multi30k cannot provide (with why)."""
    from clir_calib.data import layout

    planned, impossible = [], []
    for task in ev.tasks:
        for lang in ev.langs:
            for split in ev.splits:
                if not layout.has_language(split, lang):
                    impossible.append({"task": task, "lang": lang, "split": split, "why": f"no {lang} captions in {split}"})
                elif task == "description" and not layout.has_descriptions(split):
                    impossible.append({"task": task, "lang": lang, "split": split, "why": f"no descriptions in {split}"})
                else:
                    planned.append((task, lang, split))
    if not planned:
        raise ConfigError("none of the requested task/language/split combinations exists in Multi30k; "
                          "check evaluate.tasks, evaluate.langs and evaluate.splits")
    return planned, impossible
