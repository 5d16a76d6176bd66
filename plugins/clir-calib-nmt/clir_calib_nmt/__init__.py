"""clir-calib plugin: NMT translate-test and oracle baselines, and the ``nmt-train`` command.

Registered through the ``clir_calib`` entry-point group (``nmt = "clir_calib_nmt"``), like any
third-party plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib import hookimpl

__all__ = ["LanguageModels", "NmtBaseline", "OracleBaseline"]


def __getattr__(name: str) -> Any:
    """The baselines load on first use: this entry-point module stays light, so every command starts fast."""
    if name in ("LanguageModels", "NmtBaseline"):
        from clir_calib_nmt import baselines

        return getattr(baselines, name)
    if name == "OracleBaseline":
        from clir_calib_nmt.oracle import OracleBaseline

        return OracleBaseline
    raise AttributeError(f"module 'clir_calib_nmt' has no attribute {name!r}")


@hookimpl
def register_baselines(register: Callable[[type[Any]], None]) -> None:
    from clir_calib_nmt.baselines import NmtBaseline
    from clir_calib_nmt.oracle import OracleBaseline

    register(NmtBaseline)
    register(OracleBaseline)


@hookimpl
def register_report_sections(register: Callable[[type[Any]], None]) -> None:
    from clir_calib_nmt.report import TranslateTestSection

    register(TranslateTestSection)


@hookimpl
def register_commands(app: Any) -> None:
    from clir_calib_nmt import cli

    cli.register(app)
