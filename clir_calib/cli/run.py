"""`clir-calib run`: the whole study from one config, resumable stage by stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from clir_calib.cli.common import SET_OPTION, console, data_table, print_table, resolve_config
from clir_calib.errors import ConfigError


def parse_seeds(text: str | None) -> list[int] | None:
    """``"13,14,15"`` -> ``[13, 14, 15]``; a one-line error for anything else."""
    if text is None:
        return None
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--seeds takes whole numbers separated by commas (e.g. 13,14,15), got {text!r}") from None
    if not seeds:
        raise ConfigError("--seeds is empty; give at least one seed, e.g. --seeds 13")
    return seeds


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        config: Path = typer.Argument(..., help="Experiment YAML, e.g. configs/quick.yaml."),
        overrides: list[str] | None = SET_OPTION,
        out: Path | None = typer.Option(None, "--out", help="Output folder (default: output_dir of the config)."),
        force: list[str] | None = typer.Option(
            None, "--force", help="Redo a stage even if finished: prepare, distill, baseline, evaluate, calibrate, report."
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
        seeds: str | None = typer.Option(
            None, "--seeds", help="Distillation seeds, comma-separated (e.g. 13,14,15); overrides seeds in the config."
        ),
        executor: str | None = typer.Option(None, "--executor", help="Who runs the stages: local (default), processes, ray, "
                                            "or a plugin's (executor in the config; see docs/executors.md)."),
        address: str | None = typer.Option(None, "--address", help="With --executor ray: an existing cluster "
                                           "(auto, or ray://HOST:10001); default: a local one."),
    ) -> None:
        """Run a whole experiment config: prepare, distill, index, evaluate, calibrate, report.

        Every stage's outputs are keyed by a hash of its inputs, so a second invocation reuses them and an
        interrupted run continues (distillation resumes from its last checkpoint).
        """
        from clir_calib.pipeline.study import run_study

        cfg = resolve_config(ctx, config, overrides, {"output_dir": str(out) if out else None,
                                                      "seeds": parse_seeds(seeds), "executor": executor,
                                                      "executor_params.address": address})

        def announce(text: str) -> None:
            console.rule(f"[bold]{text}", align="left", style="dim")

        render_study(run_study(cfg, force=set(force or ()), progress=progress, announce=announce))


def render_study(result: Any) -> None:
    """The report's tables (from its tables.json), the stages with reuse and time, where the report is."""
    from clir_calib.pipeline.study_report import TABLES_FILE
    from clir_calib.stored import read_json

    tables_file = result.report_md.parent / TABLES_FILE
    tables = read_json(tables_file, "run `clir-calib run --force report`", expect=dict).get("tables", []) \
        if tables_file.is_file() else []
    for spec in tables:
        print_table(data_table(spec["caption"], spec["headers"], spec["rows"]))
    stages = Table(title="Stages", title_justify="left")
    for column in ("stage", "label", "reused", "seconds"):
        stages.add_column(column)
    for stage in result.stages:
        stages.add_row(stage.stage, stage.label, "yes" if stage.reused else "no", f"{stage.seconds:.1f}")
    console.print(stages)
    console.print(f"report: {result.report_md}  ·  {result.report_html}  ({result.seconds:.1f} s)")
