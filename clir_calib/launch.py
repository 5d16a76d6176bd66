"""The console script: Ctrl-C and SIGTERM are handled from the first instruction, imports and plugin loading
included, with the same one line as inside a command (the CLI's error handling starts only once it is imported)."""

from __future__ import annotations

import signal
import sys
from typing import Any, NoReturn

from clir_calib.errors import Terminated


def _terminate(signum: int, frame: Any) -> NoReturn:
    raise Terminated()


def main() -> None:
    """``clir-calib``: SIGTERM becomes :class:`Terminated` (locks released, nothing half-written, exit 143)."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
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
