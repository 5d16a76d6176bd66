"""One writer per output folder: an advisory lock beside the folder, naming its holder.

The lock is ``.NAME.lock`` next to ``NAME`` (an OS-level ``flock`` through :mod:`filelock`), so the
folder itself need not exist yet and its contents stay clean; it is removed when released. The
kernel drops the lock when its process dies, so a lock file left by a killed run is simply free for
the next one: taking over a stale lock needs no guessing. ``.NAME.lock.json`` says who holds it (pid, host, start time, command),
for the one-line error a second writer gets.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from clir_calib.errors import ClirCalibError


class FolderBusyError(ClirCalibError):
    """Another process is writing the folder."""


def lock_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


def _holder(folder: Path) -> str:
    try:
        info = json.loads((lock_path(folder).with_suffix(".lock.json")).read_text(encoding="utf-8"))
        return (f"pid {info.get('pid')} on {info.get('host')}, since {info.get('started')}"
                f"{': ' + info['command'] if info.get('command') else ''}")
    except (OSError, ValueError, AttributeError):
        return "another process"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], wait: float = 0.0) -> Iterator[None]:
    """Hold the write lock of ``folder`` for the block; a second writer gets :class:`FolderBusyError` at once, or
    after waiting ``wait`` seconds for the first (an executor's workers wait for each other)."""
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(target)
    for _ in range(3):
        lock = FileLock(str(path), timeout=wait, is_singleton=False)
        try:
            lock.acquire()
        except Timeout:
            raise FolderBusyError(f"{target} is being written by {_holder(target)}; wait for it to finish or "
                                  "choose another output folder") from None
        if _still_linked(lock, path):
            break
        lock.release()  # we locked a lock file its last holder had just removed: lock the current one
    else:
        raise FolderBusyError(f"{target}: could not take its lock (it keeps being replaced); try again")
    info = path.with_suffix(".lock.json")
    try:
        info.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                    "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                    "command": " ".join(sys.argv[:6])[:200]}), encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            info.unlink()
        with contextlib.suppress(OSError):
            path.unlink()  # while still locked: a later writer then creates and locks a fresh file
        lock.release()


def _still_linked(lock: FileLock, path: Path) -> bool:
    """Whether the file we hold the lock on is still the one at ``path`` (not removed by its last holder)."""
    fd = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
    if fd is None:
        return True
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False


F = TypeVar("F", bound=Callable[..., Any])


def locks_output(parameter: str) -> Callable[[F], F]:
    """Decorate a function that writes the folder named by its argument ``parameter``: it runs holding
    that folder's lock. In a multi-process run (``RANK`` set) only the main process, the one that
    writes, takes it."""
    def wrap(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def locked(*args: Any, **kwargs: Any) -> Any:
            if os.environ.get("RANK", "0") != "0":
                return func(*args, **kwargs)
            folder = signature.bind(*args, **kwargs).arguments[parameter]
            with folder_lock(folder):
                return func(*args, **kwargs)

        return locked  # type: ignore[return-value]

    return wrap


#: the kernel's table of mounts (a test points it elsewhere)
MOUNTS = Path("/proc/mounts")
#: NFS mount options under which ``flock`` stays on each client instead of reaching the server
CLIENT_ONLY_LOCKS = ("nolock", "local_lock=flock", "local_lock=all")


def _unescape(field: str) -> str:
    """A ``/proc/mounts`` field: spaces, tabs, newlines and backslashes are written as octal escapes."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def cross_node_lock_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why folder locks under ``folder`` would not keep writers on *other nodes* apart, or None.

    On Linux NFS, ``flock`` becomes a byte-range lock the server arbitrates, so it excludes other clients;
    mounted with ``nolock`` or ``local_lock=flock|all`` it stays on each client. Other file systems (and a
    machine without ``/proc/mounts``) are taken as they are: the lock is what they give."""
    try:
        lines = MOUNTS.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    target = os.path.realpath(folder)
    best: tuple[str, str, list[str]] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        point, kind, options = _unescape(fields[1]), fields[2], fields[3].split(",")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best[0])):
            best = (point, kind, options)
    if best is None or not best[1].startswith("nfs"):
        return None
    client_only = [option for option in best[2] if option in CLIENT_ONLY_LOCKS]
    if not client_only:
        return None
    return (f"{folder} is on the NFS mount {best[0]} with {client_only[0]}, where folder locks stay on each node and "
            "two nodes could write one stage at once; remount it without that option or choose another output_dir")
