"""`clir-calib prepare`: Turn Multi30k into bitext and retrieval tasks (datasets + TREC files)."""

from __future__ import annotations

from pathlib import Path

import typer

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION
from clir_calib.errors import ClirCalibError


def register(app: typer.Typer) -> None:
    @app.command("prepare")
    def prepare(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """Turn Multi30k into bitext and retrieval tasks (datasets + TREC files)."""
        raise ClirCalibError("'clir-calib prepare' is not implemented yet")
