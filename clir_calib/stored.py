"""Reading back what the tool wrote: one guarded reader per stored format, and the hashes they check.

Every folder written through :func:`clir_calib.atomic.atomic_dir` carries ``SHA256SUMS`` (the format of
``sha256sum``, so ``sha256sum -c SHA256SUMS`` checks a folder by hand) over every file in it. The readers
here check a file against the nearest such list above it, then parse it; any damage (a changed, truncated or
garbled file, a file of another JSON type, nesting deep enough to exhaust the parser) becomes one
:class:`~clir_calib.errors.DataError` that names the file and the fix the caller passes. A cache that can
be rebuilt catches that error and recomputes instead.
"""

from __future__ import annotations

import functools
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.atomic import SUMS, write_text
from clir_calib.errors import DataError
from clir_calib.hashing import sha256_file

JSON_TYPES: dict[type, str] = {dict: "a JSON object", list: "a JSON list"}


def verify(path: str | os.PathLike[str], fix: str) -> os.stat_result:
    """Raise :class:`DataError` when ``path`` differs from the hash recorded for it by the nearest enclosing
    ``SHA256SUMS`` (nothing recorded: nothing to check, e.g. a folder written before these lists); its stat."""
    file = Path(path)
    try:
        stat = file.stat()
    except FileNotFoundError:
        raise DataError(f"{file} is missing; {fix}") from None
    _verify(os.path.abspath(file), stat.st_size, stat.st_mtime_ns, fix)  # checked once per version of the file
    return stat


@functools.lru_cache(maxsize=8192)
def _verify(path: str, size: int, mtime_ns: int, fix: str) -> None:
    recorded = _recorded(Path(path))
    if recorded is not None and recorded != sha256_file(path):
        raise DataError(f"{path} changed after it was written (its {SUMS} entry differs); {fix}")


def _recorded(file: Path) -> str | None:
    for folder in file.parents:
        sums = folder / SUMS
        if sums.is_file():
            return _sums(str(sums), sums.stat().st_mtime_ns).get(file.relative_to(folder).as_posix())
    return None


@functools.lru_cache(maxsize=1024)
def _sums(path: str, mtime_ns: int) -> dict[str, str]:
    recorded: dict[str, str] = {}
    for line in Path(path).read_bytes().decode("utf-8", errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name:
            recorded[name] = digest
    return recorded


def read_json(path: str | os.PathLike[str], fix: str, expect: type | None = None) -> Any:
    """A JSON file the tool wrote, checked and parsed once per version of the file (cached by path, size and
    modification time: a report reads each ``metrics.json`` hundreds of times); ``expect`` (dict or list) is the
    type its top level must have. The returned object is shared between callers: read it, never change it."""
    file = Path(path)
    stat = verify(file, fix)
    data = _read_json(str(file), stat.st_size, stat.st_mtime_ns, fix)
    if expect is not None and not isinstance(data, expect):
        raise DataError(f"{file} is damaged (not {JSON_TYPES.get(expect, expect.__name__)}); {fix}")
    return data


@functools.lru_cache(maxsize=4096)
def _read_json(path: str, size: int, mtime_ns: int, fix: str) -> Any:
    try:
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DataError(f"{path} is damaged (not JSON); {fix}") from None


def read_jsonl(path: str | os.PathLike[str], fix: str) -> list[dict[str, Any]]:
    """The records of a JSON-lines file the tool wrote, each a JSON object; damage is one :class:`DataError`."""
    file = Path(path)
    verify(file, fix)
    records = []
    try:
        for number, line in enumerate(file.read_bytes().decode("utf-8").splitlines(), 1):
            if line.strip():
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise DataError(f"{file} line {number} is damaged (not a JSON object); {fix}")
                records.append(record)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DataError(f"{file} is damaged (not JSON lines); {fix}") from None
    return records


def read_npz(path: str | os.PathLike[str], fix: str, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays (all, or ``names``) of an ``.npz`` the tool wrote; no pickles; damage is one :class:`DataError`."""
    file = Path(path)
    verify(file, fix)
    try:
        with np.load(file, allow_pickle=False) as data:
            return {name: np.asarray(data[name]) for name in (names if names is not None else data.files)}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{file} is damaged ({type(error).__name__}); {fix}") from None


def read_npy(path: str | os.PathLike[str], fix: str) -> np.ndarray:
    """The array of an ``.npy`` the tool wrote; no pickles; damage is one :class:`DataError`."""
    file = Path(path)
    verify(file, fix)
    try:
        return np.asarray(np.load(file, allow_pickle=False))
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{file} is damaged ({type(error).__name__}); {fix}") from None


def digest_path(path: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(path)}.sha256")


def write_digest(path: str | os.PathLike[str]) -> None:
    """Record ``path``'s sha256 next to it (``PATH.sha256``), for :func:`content_changed`."""
    write_text(digest_path(path), sha256_file(path) + "\n")


def content_changed(path: str | os.PathLike[str]) -> bool:
    """True when ``PATH.sha256`` exists and no longer matches the file (an output from before digests: False)."""
    recorded = digest_path(path)
    if not recorded.is_file():
        return False
    text = recorded.read_bytes()[:200].decode("utf-8", errors="replace").strip()
    return text != sha256_file(path)  # garbage in the digest file is a change too, never a crash
