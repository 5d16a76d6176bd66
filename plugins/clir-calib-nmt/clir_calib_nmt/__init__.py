"""clir-calib plugin: NMT translate-test and oracle baselines, and the ``nmt-train`` command.

Registered through the ``clir_calib`` entry-point group (``nmt = "clir_calib_nmt"``), like any
third-party plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib import hookimpl
from clir_calib_nmt.baselines import LanguageModels, NmtBaseline
from clir_calib_nmt.oracle import OracleBaseline

__all__ = ["LanguageModels", "NmtBaseline", "OracleBaseline"]


@hookimpl
def register_baselines(register: Callable[[type[Any]], None]) -> None:
    register(NmtBaseline)
    register(OracleBaseline)


@hookimpl
def register_commands(app: Any) -> None:
    from clir_calib_nmt import cli

    cli.register(app)
