"""`clir-calib evaluate`: Retrieval metrics and score calibration per language, task and split."""

from __future__ import annotations

from pathlib import Path

import typer

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION
from clir_calib.errors import ClirCalibError


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """Retrieval metrics and score calibration per language, task and split."""
        raise ClirCalibError("'clir-calib evaluate' is not implemented yet")
