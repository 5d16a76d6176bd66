"""`clir-calib distill`: Distil a teacher into a multilingual student on bitext (OT, MSE, ...)."""

from __future__ import annotations

from pathlib import Path

import typer

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION
from clir_calib.errors import ClirCalibError


def register(app: typer.Typer) -> None:
    @app.command("distill")
    def distill(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """Distil a teacher into a multilingual student on bitext (OT, MSE, ...)."""
        raise ClirCalibError("'clir-calib distill' is not implemented yet")
