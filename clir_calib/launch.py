"""The console script: Ctrl-C and SIGTERM are handled from the first instruction, imports and plugin loading
included, with the same one line as inside a command (the CLI's error handling starts only once it is imported).

From the moment this module is imported until :func:`main` is inside its ``try``, both signals are *held*: the
handler only records them, so no exception can surface in the launcher's own lines (or the console script's) where
nothing catches it. :func:`main` then raises a held signal where it is caught."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, NoReturn

from clir_calib.errors import Terminated

_HELD: list[int] = []


def _hold(signum: int, frame: Any) -> None:
    _HELD.append(signum)


def _terminate(signum: int, frame: Any) -> NoReturn:
    raise Terminated()


def _raise_held() -> None:
    if _HELD:
        raise Terminated() if _HELD[0] == signal.SIGTERM else KeyboardInterrupt()


if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
    signal.signal(signal.SIGINT, _hold)
    signal.signal(signal.SIGTERM, _hold)


def main() -> None:
    """``clir-calib``: SIGTERM becomes :class:`Terminated` (locks released, nothing half-written, exit 143)."""
    try:
        signal.signal(signal.SIGTERM, _terminate)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _raise_held()
        from clir_calib.cli import app
    except KeyboardInterrupt as stop:
        what, code = ("terminated", 143) if isinstance(stop, Terminated) else ("interrupted", 130)
        sys.stderr.write(f"Error: {what} while starting (nothing was written); run the command again\n")
        raise SystemExit(code) from None
    try:
        app()
    except SystemExit as done:  # a signal in a window Typer handles itself (exit 130, no line): say it
        from clir_calib.cli import common

        if done.code in (130, 143) and not common.ERRORS_SAID:
            sys.stderr.write("Error: interrupted; finished stages and checkpoints are kept: run the command again\n")
        raise
