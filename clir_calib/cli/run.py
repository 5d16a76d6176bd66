"""`clir-calib run`: Run a whole experiment config: prepare, distill, index, evaluate, calibrate, report."""

from __future__ import annotations

from pathlib import Path

import typer

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION
from clir_calib.errors import ClirCalibError


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """Run a whole experiment config: prepare, distill, index, evaluate, calibrate, report."""
        raise ClirCalibError("'clir-calib run' is not implemented yet")
