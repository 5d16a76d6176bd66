"""How a failure reaches the user: one line naming the fix, or a short bug report with a log path.

File-system errors (read-only, full disk, permissions, a path component that is a file) are the
user's to fix: one line and exit 2. Anything else that escapes the library is a bug: the traceback
goes to a log file (or to the terminal with ``-v``) and the user gets where it is.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
import traceback
from pathlib import Path

from clir_calib import __version__

_HINTS = {
    errno.EROFS: "the file system is read-only; choose an output folder on a writable disk (--out)",
    errno.ENOSPC: "no space left on the device; free some space or choose an output folder on another disk",
    errno.EDQUOT: "the disk quota is exceeded; free some space or choose another output folder",
    errno.EACCES: "permission denied; choose a folder you may write to, or fix its permissions",
    errno.EPERM: "operation not permitted; choose a folder you may write to, or fix its permissions",
    errno.ENOTDIR: "a component of the path is a file, not a folder; choose another path",
    errno.EISDIR: "the path is a folder where a file is expected; name a file",
    errno.EEXIST: "the path exists and is not what is expected (a file where a folder should be?); choose another",
    errno.ENOENT: "no such file or folder; check the path",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
}


def describe_os_error(error: OSError) -> str:
    """``PATH: what happened; how to fix it`` in one line."""
    where = " -> ".join(str(p) for p in (error.filename, error.filename2) if p)
    what = error.strerror or type(error).__name__
    hint = _HINTS.get(error.errno or 0, "check the path and the disk")
    if error.errno == errno.EEXIST and error.filename and Path(str(error.filename)).is_file():
        what, hint = "is a file", "a folder is needed there (an output path below a file?); choose another path"
    return f"{where + ': ' if where else ''}{what}; {hint}"


def log_folder() -> Path:
    """Where bug reports go: ``$CLIR_CALIB_CACHE/logs`` (default ``~/.cache/clir-calib/logs``)."""
    root = os.environ.get("CLIR_CALIB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "clir-calib")
    return Path(root) / "logs"


def bug_report(error: BaseException, show_traceback: bool = False) -> str:
    """Write the traceback to a log file; return the one-paragraph message that names it."""
    text = "".join(traceback.format_exception(error))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    header = f"clir-calib {__version__}\n"
    path: Path | None = None
    for folder in (log_folder(), Path(tempfile.gettempdir())):  # the second only if the first is unwritable
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(header + text, encoding="utf-8")
            break
        except OSError:
            path = None
    summary = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    where = f"the traceback is in {path}" if path is not None else "no log file could be written"
    message = (f"internal error ({summary}). This is a bug in clir-calib or a plugin, not in your input: "
               f"please report it with the command you ran; {where}.")
    if show_traceback:
        message = text + message
    return message
