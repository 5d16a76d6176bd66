"""Names that become paths and folders that hold data: the checks of languages and splits, the default source."""

from __future__ import annotations

import os
from pathlib import Path

from clir_calib.config.sections import DEFAULT_MULTI30K_VARIABLE, LANGUAGE, LANGUAGES, PART
from clir_calib.errors import ConfigError
from clir_calib.params import Param, check_once


def known_first(known: tuple[str, ...], value: str) -> tuple[int, str]:
    """Sort key: the values in ``known`` in their order (Multi30k's languages, splits, tasks), then others by name."""
    return (known.index(value), "") if value in known else (len(known), value)


LANGUAGE_PARAM = Param("language", "de", "a document language", type=str, **LANGUAGE)
SPLIT_PARAM = Param("split", "val", "a split of the data", type=str, **PART)


def check_languages(langs: list[str], allowed: tuple[str, ...] | None = None) -> list[str]:
    """Return ``langs`` or raise a one-line error: not a language code, English (the query language), or,
    with ``allowed``, not among those. Whether the data has a language is checked where it is read."""
    check_once(langs, "languages")
    for lang in langs:
        if allowed is not None and lang not in allowed:
            raise ConfigError(f"unknown language {lang!r}; choose from {', '.join(allowed)}")
        if lang == "en":
            raise ConfigError("unknown language 'en': English is the query language; name document languages "
                              f"such as {', '.join(LANGUAGES)}")
        LANGUAGE_PARAM.check(lang, "language")
    return langs


def check_splits(splits: list[str], allowed: tuple[str, ...] | None = None) -> list[str]:
    """Return ``splits`` or raise a one-line error: not a usable name, or, with ``allowed``, not among those."""
    check_once(splits, "splits")
    for split in splits:
        if allowed is not None and split not in allowed:
            raise ConfigError(f"unknown split {split!r}; choose from {', '.join(allowed)}")
        SPLIT_PARAM.check(split, "split")
    return splits


def default_multi30k_source() -> Path | None:
    """``$CLIR_CALIB_MULTI30K``, else ``../shared/data/multi30k`` when it exists."""
    env = os.environ.get(DEFAULT_MULTI30K_VARIABLE)
    if env:
        return Path(env)
    for candidate in (Path("../shared/data/multi30k"), Path(__file__).resolve().parents[3] / "shared/data/multi30k"):
        if candidate.is_dir():
            return candidate
    return None
