"""Write outputs so that nothing half-written is ever left behind: temp path, then rename."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it is renamed to ``final``.

    On any exception the temporary folder is removed and ``final`` is untouched. With
    ``overwrite`` an existing ``final`` is replaced only after the new one is complete.
    """
    final_path = Path(final)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final_path.name}.tmp-", dir=final_path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs should be as readable as any folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final_path.exists():
        if not overwrite:
            shutil.rmtree(tmp, ignore_errors=True)
            raise FileExistsError(errno.EEXIST, "already exists (written meanwhile by another run?)", str(final_path))
        old = final_path.with_name(f".{final_path.name}.old-{os.getpid()}")
        os.replace(final_path, old)
        os.replace(tmp, final_path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final_path)


@contextlib.contextmanager
def atomic_file(final: str | os.PathLike[str], mode: str = "w", **open_kwargs: Any) -> Iterator[Any]:
    """Open a temporary sibling file for writing; rename it to ``final`` when the block succeeds."""
    final_path = Path(final)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final_path.name}.tmp-", dir=final_path.parent)
    os.close(fd)
    os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should be as readable as any file
    try:
        if "b" not in mode:
            open_kwargs.setdefault("encoding", "utf-8")
        with open(tmp_name, mode, **open_kwargs) as handle:
            yield handle
        os.replace(tmp_name, final_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write ``text`` to ``path``."""
    with atomic_file(path) as handle:
        handle.write(text)


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Atomically write ``data`` as indented JSON (NaN is refused: it is not valid JSON)."""
    with atomic_file(path) as handle:
        json.dump(data, handle, indent=2, sort_keys=False, allow_nan=False, default=str)
        handle.write("\n")
