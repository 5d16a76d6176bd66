"""`clir-calib evaluate`: retrieval metrics and score calibration per task, language and split.

With ``--compare EVAL_DIR...`` it instead builds the comparison tables of finished evaluations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from clir_calib.cli.common import (
    BASELINE_OPTION,
    CONFIG_OPTION,
    DOCUMENTS_OPTION,
    LANGS_OPTION,
    PREPARED_OPTION,
    PROGRESS_OPTION,
    SET_OPTION,
    SPLITS_OPTION,
    TASKS_OPTION,
    TEACHER_OPTION,
    console,
    err_console,
    print_table,
    resolve_config,
    state,
)


def _interval_text(values: dict[str, Any]) -> str:
    text = f"{values['value']:.3f}"
    if values.get("low") is not None and values.get("high") is not None:
        text += f"\n[{values['low']:.3f}, {values['high']:.3f}]"
    return text


def summary_tables(summary: dict[str, Any]) -> list[Table]:
    """Retrieval metrics per (task, lang, split), then every calibration view's metrics, with intervals."""
    from clir_calib.evaluation.compare import CALIBRATION_METRICS, metric_label
    from clir_calib.metrics.retrieval import RETRIEVAL_METRICS

    name = summary["system"]["name"]
    retrieval = Table(title=f"{name}: retrieval (95% bootstrap intervals over queries)", show_lines=True)
    calibration = Table(title=f"{name}: calibration of the scores (95% bootstrap intervals)", show_lines=True)
    for column in ("task", "lang", "split", "queries"):
        retrieval.add_column(column)
    for column in ("task", "lang", "split", "view"):
        calibration.add_column(column)
    for metric in RETRIEVAL_METRICS:
        retrieval.add_column(metric_label(metric), justify="right")
    for metric in CALIBRATION_METRICS:
        calibration.add_column(metric_label(metric), justify="right")
    for entry in summary["entries"]:
        where = [entry["task"], entry["lang"], entry["split"]]
        retrieval.add_row(*where, str(entry["n_queries"]), *[_interval_text(entry["retrieval"][m]) for m in RETRIEVAL_METRICS])
        for view, data in entry["calibration"].items():
            metrics = data["metrics"]
            calibration.add_row(*where, view, *[_interval_text(metrics[m]) for m in CALIBRATION_METRICS])
    return [retrieval, calibration]


def comparison_table(table: Any) -> Table:
    """A rich rendering of one :class:`~clir_calib.evaluation.compare.ComparisonTable`."""
    from clir_calib.evaluation.compare_output import header, table_rows

    out = Table(title=f"{table.task} · {table.split} · {table.group} (reference: {table.reference})", show_lines=True)
    out.add_column("system")
    for lang, metric in table.columns:
        out.add_column(header(lang, metric), justify="right")
    for name, *cells in table_rows(table, bold=("[bold green]", "[/]")):
        out.add_row(name, *[cell.replace(" [", "\n[", 1) for cell in cells])
    return out


#: evaluate's options and the config keys they set
EVALUATE_OPTIONS = {
    "prepared": "data.prepared", "documents": "evaluate.documents", "teacher": "models.teacher.name",
    "baseline": "evaluate.baseline", "name": "evaluate.system", "langs": "evaluate.langs", "tasks": "evaluate.tasks",
    "splits": "evaluate.splits", "top_k": "evaluate.top_k", "bootstrap": "evaluate.bootstrap",
    "temperature": "evaluate.temperature",
    "calibrator": "evaluate.calibrator",
}


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate(
        ctx: typer.Context,
        folders: list[Path] | None = typer.Argument(None, help="Evaluate folders to compare (with --compare)."),
        compare: bool = typer.Option(False, "--compare", help="Compare finished evaluate folders instead."),
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
        prepared: Path | None = PREPARED_OPTION,
        documents: str | None = DOCUMENTS_OPTION,
        teacher: str | None = TEACHER_OPTION,
        baseline: str | None = BASELINE_OPTION,
        name: str | None = typer.Option(None, "--name", help="System name in tables (evaluate.system)."),
        langs: str | None = LANGS_OPTION,
        tasks: str | None = TASKS_OPTION,
        splits: str | None = SPLITS_OPTION,
        top_k: int | None = typer.Option(None, "--top-k", help="Candidates per query (evaluate.top_k)."),
        bootstrap: int | None = typer.Option(None, "--bootstrap", help="Bootstrap resamples (evaluate.bootstrap)."),
        temperature: float | None = typer.Option(
            None, "--temperature", help="Raw listwise softmax temperature (evaluate.temperature); default: the query "
            "encoder's training temperature (E5: 0.01)."),
        calibrator: Path | None = typer.Option(
            None, "--calibrator", help="Fitted calibrator JSON from 'clir-calib calibrate' (evaluate.calibrator)."),
        reference: str | None = typer.Option(None, "--reference", help="With --compare: the reference system name."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Output folder."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
        progress: bool = PROGRESS_OPTION,
    ) -> None:
        """Retrieval metrics and score calibration per language, task and split (or --compare folders)."""
        from clir_calib.errors import ConfigError

        cfg = resolve_config(ctx, config, overrides, options=EVALUATE_OPTIONS)
        if compare:
            _compare(cfg, folders or [], reference, out, state(ctx).seed)
            return
        if folders:
            raise ConfigError("positional folders are only for --compare; to evaluate, pass --documents/--baseline")
        from clir_calib.claims import child
        from clir_calib.evaluation.evaluate import run_evaluation
        from clir_calib.evaluation.system import system_name

        target = out or child(Path(cfg.output_dir) / "eval", system_name(cfg))
        render_evaluation(run_evaluation(cfg, target, overwrite=overwrite, progress=progress), target)


def render_evaluation(summary: dict[str, Any], target: Path) -> None:
    for table in summary_tables(summary):
        print_table(table)
    raw = summary.get("raw_views") or {}
    if raw:
        console.print(f"raw listwise view at T = {raw['temperature']:g} ({raw['temperature_source']})", highlight=False)
    for item in summary["unavailable"]:
        err_console.print(f"skipped {item['task']}/{item['lang']}/{item['split']}: {item['why']}")
    console.print(f"wrote {target} ({summary['elapsed_s']:.1f} s)")


def _compare(cfg: Any, folders: list[Path], reference: str | None, out: Path | None, seed: int) -> None:
    from clir_calib.evaluation.compare import compare_runs
    from clir_calib.evaluation.compare_output import write_comparison

    ev = cfg.evaluate
    tables = compare_runs(folders, reference, ev.permutations, ev.alpha, seed=seed, resamples=ev.bootstrap,
                          on_progress=lambda message: err_console.log(message) if state_verbose() else None)
    for table in tables:
        print_table(comparison_table(table))
    target = out or Path(cfg.output_dir) / "comparison"
    paths = write_comparison(tables, target, folders, ev.alpha, ev.permutations)
    console.print(f"best per column in bold green; rows A − ref: paired difference [95% interval], † p < {ev.alpha:g} "
                  f"({ev.permutations} permutations)")
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))


def state_verbose() -> bool:
    import logging

    return logging.getLogger().isEnabledFor(logging.INFO)
