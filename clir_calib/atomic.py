"""Write outputs so that nothing half-written is ever left behind: temp path, then rename.

Temporary siblings are named ``.NAME.tmp-HOST-PID-XXXX`` (``.old-``, ``.save-`` likewise): a process
killed before its rename leaves one behind, and the next write next to it removes those whose owner
(same host) is no longer running, so a SIGKILL never leaves a 31 MB hidden folder for good.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clir_calib.hashing import sha256_file

SUMS = "SHA256SUMS"  # each atomically written folder's hash list, checked by the readers of clir_calib.stored


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it is renamed to ``final``.

    On any exception the temporary folder is removed and ``final`` is untouched. With
    ``overwrite`` an existing ``final`` is replaced only after the new one is complete. The folder gets
    ``SHA256SUMS`` over its files, which the readers of :mod:`clir_calib.stored` check.
    """
    final_path = Path(final)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(final_path)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(final_path, "tmp"), dir=final_path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs should be as readable as any folder
    try:
        yield tmp
        write_sums(tmp)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        named = with_path(error, final_path)
        if named is error:
            raise
        raise named from error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final_path.exists():
        if not overwrite:
            shutil.rmtree(tmp, ignore_errors=True)
            raise FileExistsError(errno.EEXIST, "already exists (written meanwhile by another run?)", str(final_path))
        old = final_path.with_name(f"{temp_prefix(final_path, 'old')}x")
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
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(final_path, "tmp"), dir=final_path.parent)
    os.close(fd)
    os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should be as readable as any file
    try:
        if "b" not in mode:
            open_kwargs.setdefault("encoding", "utf-8")
        with open(tmp_name, mode, **open_kwargs) as handle:
            yield handle
        os.replace(tmp_name, final_path)
    except OSError as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        named = with_path(error, final_path)
        if named is error:
            raise
        raise named from error
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def with_path(error: OSError, path: Path) -> OSError:
    """``error`` itself when it names a file, else the same error naming ``path`` (a full disk during a write
    reports no file of its own, and the one-line message must say where)."""
    if error.filename is not None or error.errno is None:
        return error
    return type(error)(error.errno, error.strerror, str(path))


KINDS = ("tmp", "old", "save")
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
_LEFTOVER = re.compile(rf"^\.(?P<name>.+)\.(?P<kind>{'|'.join(KINDS)})-(?P<host>[0-9a-f]{{6}})-(?P<pid>\d+)-")


def temp_prefix(final: Path, kind: str) -> str:
    """``.NAME.KIND-HOST-PID-``: whose temporary sibling of ``final`` this is."""
    return f".{final.name}.{kind}-{_HOST}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def sweep_leftovers(final: Path) -> list[Path]:
    """Remove temporary siblings of ``final`` left by processes of this host that are gone; return them."""
    removed: list[Path] = []
    try:
        siblings = list(final.parent.iterdir())
    except OSError:
        return removed
    for path in siblings:
        match = _LEFTOVER.match(path.name)
        if match is None or match["name"] != final.name or match["host"] != _HOST or _alive(int(match["pid"])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        removed.append(path)
    return removed


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write ``text`` to ``path``."""
    with atomic_file(path) as handle:
        handle.write(text)


#: zlib level of every ``.npz`` written: level 1 compresses float arrays about as well as numpy's default (6), in
#: a fraction of the time, and evaluate writes three archives per entry
NPZ_LEVEL = 1


def write_npz(path: str | os.PathLike[str], arrays: dict[str, Any]) -> None:
    """``np.savez_compressed`` at :data:`NPZ_LEVEL`, atomically; ``np.load`` reads it as any ``.npz``."""
    import zipfile

    import numpy as np

    with atomic_file(path, "wb") as handle, \
            zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=NPZ_LEVEL) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Atomically write ``data`` as indented JSON (NaN is refused: it is not valid JSON)."""
    with atomic_file(path) as handle:
        json.dump(data, handle, indent=2, sort_keys=False, allow_nan=False, default=str)
        handle.write("\n")


def write_sums(folder: Path) -> None:
    """Write ``folder/SHA256SUMS`` over every file below ``folder`` (the format of ``sha256sum``, so
    ``sha256sum -c SHA256SUMS`` checks a folder by hand too)."""
    lines = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink() and not (Path(root) == folder and name == SUMS):
                lines.append(f"{sha256_file(path)}  {path.relative_to(folder).as_posix()}")
    (folder / SUMS).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
