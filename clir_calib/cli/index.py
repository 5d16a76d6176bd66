"""`clir-calib index`: Encode a task's corpus and store the embeddings for evaluate."""

from __future__ import annotations

from pathlib import Path

import typer

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION
from clir_calib.errors import ClirCalibError


def register(app: typer.Typer) -> None:
    @app.command("index")
    def index(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """Encode a task's corpus and store the embeddings for evaluate."""
        raise ClirCalibError("'clir-calib index' is not implemented yet")
