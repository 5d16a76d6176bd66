"""`clir-calib distill`: Distil a teacher into a multilingual student on bitext (OT, MSE, ...)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION, console, err_console, resolve_config
from clir_calib.errors import ConfigError


def parse_loss_flags(values: list[str] | None) -> list[dict[str, Any]] | None:
    """``--loss ot --loss mse`` or ``--loss ot+0.5*mse`` -> LossSpec mappings (name, weight)."""
    if not values:
        return None
    specs: list[dict[str, Any]] = []
    for value in values:
        for term in value.split("+"):
            term = term.strip()
            if not term:
                raise ConfigError(f"--loss {value!r} has an empty term; write e.g. ot+0.5*mse")
            weight = 1.0
            if "*" in term:
                factor, term = (part.strip() for part in term.split("*", 1))
                try:
                    weight = float(factor)
                except ValueError:
                    raise ConfigError(f"--loss weight {factor!r} is not a number; write e.g. 0.5*mse") from None
                if not math.isfinite(weight):
                    raise ConfigError(f"--loss weight {factor!r} must be finite")
            specs.append({"name": term, "weight": weight})
    return specs


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


#: distill's options and the config keys they set (--loss is parsed first: parse_loss_flags)
DISTILL_OPTIONS = {
    "lang": "distill.lang", "teacher": "models.teacher.name", "student": "models.student.name",
    "data": "data.prepared", "max_pairs": "distill.max_pairs", "epochs": "distill.epochs",
    "batch_size": "distill.batch_size", "lr": "distill.lr", "log_with": "distill.log_with",
}


def register(app: typer.Typer) -> None:
    @app.command("distill")
    def distill(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
        lang: str | None = typer.Option(None, "--lang", help="Target language of the bitext (de, fr, cs)."),
        loss: list[str] | None = typer.Option(
            None, "--loss", help="Alignment loss, repeatable or summed: --loss ot --loss mse, --loss ot+0.5*mse. "
            "Loss parameters: --set 'distill.losses=[{name: ot, params: {epsilon: 0.05}}]'.",
        ),
        teacher: str | None = typer.Option(None, "--teacher", help="Frozen teacher (hub name or folder)."),
        student: str | None = typer.Option(None, "--student", help="Student initialisation (hub name or folder)."),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Run folder (default: OUTPUT_DIR/distill-LANG-LOSSES)."
        ),
        data: Path | None = typer.Option(None, "--data", help="Prepared data folder (data.prepared)."),
        max_pairs: int | None = typer.Option(None, "--max-pairs", help="Use the first N training pairs."),
        epochs: int | None = typer.Option(None, "--epochs", help="Passes over the training pairs."),
        batch_size: int | None = typer.Option(None, "--batch-size", help="Pairs per micro-batch."),
        lr: float | None = typer.Option(None, "--lr", help="Peak AdamW learning rate."),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
        log_with: str | None = typer.Option(
            None, "--log-with", help="Also log to a tracker: tensorboard, wandb or mlflow (distill.log_with)."
        ),
        progress: bool | None = typer.Option(
            None, "--progress/--no-progress", help="Progress bar (default: when the terminal is interactive)."
        ),
    ) -> None:
        """Distil a teacher into a multilingual student on bitext (OT, MSE, ...)."""
        from clir_calib import api

        cfg = resolve_config(ctx, config, overrides, flags={"distill.losses": parse_loss_flags(loss)},
                             options=DISTILL_OPTIONS)
        show = err_console.is_terminal if progress is None else progress
        run = api.distill(config=cfg, out=out, resume=resume, progress=show and _is_main_process())
        if _is_main_process():
            render_result(cfg, run.result)


def render_result(cfg: Any, result: Any) -> None:
    names = "+".join(spec.name for spec in cfg.distill.losses) or "none"
    table = Table(title=f"Distillation ({cfg.distill.lang}, {names})", title_justify="left")
    table.add_column("", style="cyan")
    table.add_column("value", justify="right")
    table.add_row("val accuracy en->xx before", f"{result.val_accuracy_before:.4f}")
    table.add_row("val accuracy en->xx after", f"{result.val_accuracy_after:.4f}")
    table.add_row("steps", str(result.steps))
    table.add_row("training pairs", f"{result.train_pairs:,}")
    if result.resumed_from_step is not None:
        table.add_row("resumed from step", str(result.resumed_from_step))
    table.add_row("seconds", f"{result.seconds:.1f}")
    console.print(table)
    console.print(f"student: {result.run_dir}")
