"""`clir-calib calibrate`: Fit calibrators on the seen language and apply them unchanged to the others."""

from __future__ import annotations

from pathlib import Path

import typer

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION
from clir_calib.errors import ClirCalibError


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """Fit calibrators on the seen language and apply them unchanged to the others."""
        raise ClirCalibError("'clir-calib calibrate' is not implemented yet")
