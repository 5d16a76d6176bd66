"""What an evaluate folder says about itself: the entries it holds and how its raw scores were read.

``calibrate`` takes its defaults from here, never from defaults of its own: the target languages and splits
are the folder's, and the raw ("before") views use the temperature and sigmoid that ``evaluate`` used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clir_calib.config import EVAL_SPLITS, LANGUAGES, TASKS, known_first
from clir_calib.errors import ConfigError, DataError
from clir_calib.stored import read_json

#: keys of ``summary.json``'s ``raw_views`` that ``calibrate`` reads, and the identity calibrator's names for them
RAW_VIEW_KEYS = {"temperature": "temperature", "sigmoid_scale": "scale", "sigmoid_bias": "bias"}


def evaluated_entries(root: Path) -> list[tuple[str, ...]]:
    """Every (task, lang, split) with a ``scored.npz`` in an evaluate folder, in the usual order."""
    found = [p.parent.relative_to(root).parts for p in sorted(root.glob("*/*/*/scored.npz"))]
    return sorted(found, key=lambda e: (known_first(TASKS, e[0]), known_first(LANGUAGES, e[1]),
                                        known_first(EVAL_SPLITS, e[2])))


def default_targets(root: Path, fit_lang: str, fit_split: str, langs: Sequence[str] | None,
                    splits: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """``langs`` and ``splits``, or where empty every language the folder has (the fit language first) and every
    evaluated split but the fit split (so no calibrator is scored on its own training data by default)."""
    entries = evaluated_entries(root)
    if not langs:
        langs = [fit_lang, *[lang for lang in dict.fromkeys(e[1] for e in entries) if lang != fit_lang]]
    if not splits:
        splits = [split for split in dict.fromkeys(e[2] for e in entries) if split != fit_split]
        if not splits and entries:
            raise ConfigError(f"{root} holds only the fit split {fit_split!r}; evaluate a held-out split too "
                              f"(clir-calib evaluate --splits {fit_split},test ...) and calibrate on it")
    return list(langs), list(splits)


def resolve_targets(section: Any, evaluate: Any) -> Any:
    """A study's calibrate section with unset targets filled from its evaluate section (in place; returned): every
    evaluated language (the fit language first) and every evaluated split but the fit split, as for a folder."""
    if not section.target_langs:
        section.target_langs = [section.fit_lang, *[lang for lang in evaluate.langs if lang != section.fit_lang]]
    if not section.target_splits:
        section.target_splits = [split for split in evaluate.splits if split != section.fit_split]
    return section


def check_fit_is_not_target(fit_lang: str, fit_split: str, langs: Sequence[str], splits: Sequence[str],
                            allowed: bool) -> None:
    """A target equal to the fit set scores a calibrator on its own training data: refused unless asked."""
    if fit_split in splits and fit_lang in langs and not allowed:
        raise ConfigError(f"target split {fit_split!r} is the fit split for {fit_lang}: that scores each calibrator "
                          "on its own training data; choose other --splits, or set calibrate.score_fit_split=true "
                          "to report it anyway")


def bootstrap_settings(root: Path) -> tuple[int, int] | None:
    """``(resamples, seed)`` of the folder's bootstrap, so calibrated views are resampled with the very query draws
    of ``evaluate`` (None when the folder has no bootstrap)."""
    try:
        summary = read_json(root / "summary.json", "", expect=dict)
    except (OSError, DataError):
        return None
    resamples, seed = summary.get("bootstrap"), summary.get("seed")
    if seed is None and (root / "config.yaml").is_file():  # folders written before the summary recorded the seed
        from clir_calib.config import load_config

        seed = load_config(root / "config.yaml").seed
    if not isinstance(resamples, int) or not isinstance(seed, int) or resamples < 1:
        return None
    return resamples, seed


def ece_samples(confidences: Any, correct: Any, bins: int, resamples: int, seed: int) -> Any:
    """Equal-width ECE of one view on each bootstrap resample of its queries (``evaluate``'s draws)."""

    from clir_calib.evaluation.bootstrap import resample_counts
    from clir_calib.metrics.weighted import Pairs, weighted_metrics

    n_queries = confidences.shape[0]
    pairs = Pairs.per_query(confidences, correct)
    weights = resample_counts(n_queries, resamples, seed)
    return weighted_metrics(pairs, weights, bins, ("ece_equal_width",))["ece_equal_width"]


def raw_view_settings(root: Path) -> dict[str, float | None]:
    """How ``evaluate`` read the folder's raw scores as probabilities (the identity calibrator's parameters); a
    parameter is None where the folder states no mapping for its view (an imported run's native scores)."""
    summary_path = root / "summary.json"
    try:
        summary = read_json(summary_path, "run `clir-calib evaluate` into it again", expect=dict)
    except FileNotFoundError:
        raise DataError(f"{summary_path} is missing; {root} is not a finished evaluate folder: run "
                        "`clir-calib evaluate --out` into it again") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{summary_path} cannot be read ({type(error).__name__}); run `clir-calib evaluate` "
                        "into a new folder") from None
    raw: Any = summary.get("raw_views") if isinstance(summary, dict) else None
    if not isinstance(raw, dict) or not all(key in raw and (raw[key] is None or isinstance(raw[key], int | float))
                                            for key in RAW_VIEW_KEYS):
        raise DataError(f"{summary_path} does not say how its raw scores were read (no raw_views; written by an "
                        "older clir-calib): evaluate again with this version")
    return {name: None if raw[key] is None else float(raw[key]) for key, name in RAW_VIEW_KEYS.items()}


def raw_view_parameters(raw: dict[str, float | None], view: str) -> dict[str, float] | None:
    """The identity calibrator's parameters for ``view``, or None when the folder states no raw mapping for it."""
    needed = ("temperature",) if view == "listwise" else ("scale", "bias")
    if any(raw.get(name) is None for name in needed):
        return None
    return {name: float(value) for name, value in raw.items() if value is not None}


def check_evaluated(root: Path, langs: Sequence[str], splits: Sequence[str]) -> None:
    """A language or split that the evaluate folder has nowhere is a typo or was never evaluated: say so."""
    entries = evaluated_entries(root)
    if not entries:
        return  # reported with the fit set below
    for what, values, position in (("language", langs, 1), ("split", splits, 2)):
        known = sorted({e[position] for e in entries})
        for value in values:
            if value not in known:
                raise ConfigError(f"unknown {what} {value!r}: {root} has {', '.join(known)} evaluated; evaluate it "
                                  "first or choose among those")


def missing_entry(root: Path, lang: str, split: str) -> str:
    """What the evaluate folder holds, and the evaluate flags that would add ``lang``/``split``."""
    entries = evaluated_entries(root)
    langs = sorted({parts[1] for parts in entries})
    splits = sorted({parts[2] for parts in entries})
    if not entries:
        return "it holds no evaluated entry at all; run 'clir-calib evaluate --out' into it first"
    if lang not in langs:
        return (f"it has languages {', '.join(langs)} only; evaluate {lang} too (clir-calib evaluate --langs "
                f"{','.join([*langs, lang])} ...) or choose --fit-lang among {', '.join(langs)}")
    return (f"it has splits {', '.join(splits)} only; evaluate {split} too (--set evaluate.splits=[{','.join([*splits, split])}]) "
            f"or choose --fit-split among {', '.join(splits)}")
