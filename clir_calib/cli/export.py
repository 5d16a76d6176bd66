"""`clir-calib export`: a distill run -> a clean model folder to publish (optionally pushed to the hub)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from clir_calib.cli.common import console


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        run: Path = typer.Argument(..., help="A finished distill run folder."),
        out: Path = typer.Argument(..., help="The folder to write (weights, tokenizer, model card; no checkpoints)."),
        eval_dir: Path | None = typer.Option(None, "--eval", help="An evaluate folder of this run: its numbers go "
                                             "into the model card."),
        push_to_hub: str | None = typer.Option(None, "--push-to-hub", help="Also upload to this hub repository "
                                               "(org/name; created private when missing)."),
        public: bool = typer.Option(False, "--public", help="With --push-to-hub: create the repository public."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    ) -> None:
        """Write a publishable sentence-transformers folder from a distill run: no checkpoints or training state,
        a model card naming the base model and carrying the run's measured numbers."""
        from clir_calib.distill.export import export_run

        render_export(export_run(run, out, eval_dir, overwrite=overwrite, push_to_hub=push_to_hub,
                                 private=not public))


def render_export(result: Any) -> None:
    base = result.base_model or "a local model"
    console.print(f"wrote {result.folder}: {len(result.files)} files, base model {base}")
    if result.pushed_to:
        console.print(f"pushed to {result.pushed_to}")
