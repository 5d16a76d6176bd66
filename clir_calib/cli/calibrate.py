"""`clir-calib calibrate`: fit calibrators on the seen language and apply them unchanged to the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION, console, err_console, print_table, resolve_config


def adaptation_table(result: Any) -> Table:
    """ECE-w after each adapter and bound, per calibrator and target set."""
    methods = list(dict.fromkeys(row.method for row in result.adaptation.rows))
    table = Table(title=f"ECE-w after label-free adapters and bounds (fit on {result.fit_lang}/{result.fit_split})")
    for column in ("task", "calibrator", "target", *methods):
        table.add_column(column, justify="left" if column in ("task", "calibrator", "target") else "right")
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    for row in result.adaptation.rows:
        key = (row.task, row.calibrator, f"{row.lang}/{row.split}")
        text = f"{row.metrics['ece_equal_width']:.4f}"
        if row.draws > 1:
            text += f" ± {row.sd['ece_equal_width']:.4f}"
        cells.setdefault(key, {})[row.method] = text
    for (task, calibrator, target), values in cells.items():
        table.add_row(task, calibrator, target, *[values.get(m, "–") for m in methods])
    return table


#: calibrate's options and the config keys they set
CALIBRATE_OPTIONS = {
    "fit_lang": "calibrate.fit_lang", "fit_split": "calibrate.fit_split", "calibrators": "calibrate.calibrators",
    "langs": "calibrate.target_langs", "splits": "calibrate.target_splits", "tasks": "calibrate.tasks",
    "adapt": "calibrate.adapters", "bounds": "calibrate.bounds",
}


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        ctx: typer.Context,
        eval_dir: Path = typer.Option(..., "--eval", "-e", help="An 'evaluate' output folder (with scored.npz files)."),
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
        fit_lang: str | None = typer.Option(None, "--fit-lang", help="Language to fit on (calibrate.fit_lang)."),
        fit_split: str | None = typer.Option(None, "--fit-split", help="Split to fit on (calibrate.fit_split)."),
        calibrators: str | None = typer.Option(
            None, "--calibrators", help="Comma-separated calibrators (calibrate.calibrators); see 'clir-calib plugins'."),
        langs: str | None = typer.Option(None, "--langs", help="Comma-separated target languages (calibrate.target_langs)."),
        splits: str | None = typer.Option(None, "--splits", help="Comma-separated target splits (calibrate.target_splits)."),
        tasks: str | None = typer.Option(None, "--tasks", help="Comma-separated tasks (calibrate.tasks; default: all found)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default: EVAL/calibration-LANG-SPLIT)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
        diagrams: bool = typer.Option(True, "--diagrams/--no-diagrams", help="Write reliability-diagram PNGs."),
        adapt: str | None = typer.Option(
            None, "--adapt", help="Label-free transfer adapters, comma-separated (calibrate.adapters), e.g. "
            "none,quantile,standardize,mixture; see 'clir-calib plugins'."),
        bounds: str | None = typer.Option(
            None, "--bounds", help="Labelled bounds, comma-separated (calibrate.bounds): oracle,fewshot."),
    ) -> None:
        """Fit calibrators on one language's scores and measure them, unchanged, on every target language.

        The config defaults to EVAL/config.yaml (so bins and the pointwise depth match the evaluation);
        -c and --set override it.
        """
        from clir_calib import api

        saved = eval_dir / "config.yaml"
        cfg = resolve_config(ctx, config if config is not None or not saved.is_file() else saved, overrides,
                             options=CALIBRATE_OPTIONS)
        calibrated = api.calibrate(eval_dir, config=cfg, out=out, diagrams=diagrams, overwrite=overwrite)
        render_transfer(calibrated.result, calibrated.path)


def render_transfer(result: Any, target: Path) -> None:
    """The before -> after table per task and split, the adaptation table, what was skipped."""
    from clir_calib.transfer.outputs import summary_table

    for task in result.tasks:
        for split in result.target_splits:
            header, rows = summary_table(result, task, split)
            table = Table(title=f"{task} · {split}: ECE (equal-width) before → after, fit on "
                          f"{result.fit_lang}/{result.fit_split}; gap = unseen − seen (raw in brackets)")
            for i, column in enumerate(header):
                table.add_column(column, justify="left" if i < 2 else "right")
            for cells in rows:
                table.add_row(*cells)
            print_table(table)
    if result.adaptation is not None:
        print_table(adaptation_table(result))
    for item in result.skipped:
        err_console.print(f"skipped {item['set']}: {item['why']}")
    for warning in result.warnings:
        err_console.print(f"[yellow]Warning:[/] {warning}", highlight=False)
    console.print(f"wrote {target}")
