"""Errors that reach the user as one line naming the fix (the CLI exits with code 2)."""

from __future__ import annotations

from collections.abc import Iterable


class ClirCalibError(Exception):
    """Base class: a problem with the user's input or environment, not a bug.

    The message is shown as is, on one line, so it should say what is wrong and how to fix it.
    """

    exit_code = 2


class ConfigError(ClirCalibError):
    """A config file or override is malformed or names an unknown key."""


class DataError(ClirCalibError):
    """Input data is missing, misaligned, empty or unreadable."""


class ModelError(ClirCalibError):
    """A model cannot be resolved or loaded."""


class NumericalError(ClirCalibError):
    """NaN or inf appeared where a finite number is required."""


class UnknownPluginError(ClirCalibError):
    """A name that no registered plugin provides."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.choices = sorted(choices)
        listed = ", ".join(self.choices) if self.choices else "(none registered)"
        super().__init__(f"unknown {kind} {name!r}; available: {listed}")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that locks, temporary files and checkpoints are handled
    exactly as for Ctrl-C; the command exits 143 (128 + SIGTERM)."""
