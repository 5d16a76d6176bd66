"""`clir-calib evaluate`: retrieval metrics and score calibration per task, language and split.

With ``--compare EVAL_DIR...`` it instead builds the comparison tables of finished evaluations.
"""

from __future__ import annotations

import math
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
        run: Path | None = typer.Option(None, "--run", help="Import another system's TREC run (with --qrels, --name "
                                        "and one --tasks/--langs/--splits each) instead of encoding."),
        qrels: Path | None = typer.Option(None, "--qrels", help="With --run: the TREC qrels it is scored against."),
        runs: Path | None = typer.Option(None, "--runs", help="Import every TASK/LANG/SPLIT/run.trec (with qrels.txt "
                                         "beside it) under this folder, as evaluate lays out its own."),
        sigmoid: str | None = typer.Option(None, "--sigmoid", help="With --run/--runs: SCALE[,BIAS] maps the run's "
                                           "scores to pointwise probabilities (no raw pointwise view without it)."),
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
        if run or qrels or runs or sigmoid:
            render_evaluation(_import(cfg, run, qrels, runs, sigmoid, temperature, out, overwrite), out or Path("."))
            return
        from clir_calib import api

        result = api.evaluate(config=cfg, out=out, overwrite=overwrite, progress=progress)
        render_evaluation(result.summary, result.path)


def render_evaluation(summary: dict[str, Any], target: Path) -> None:
    for table in summary_tables(summary):
        print_table(table)
    raw = summary.get("raw_views") or {}
    if raw.get("temperature") is not None:
        console.print(f"raw listwise view at T = {raw['temperature']:g} ({raw['temperature_source']})", highlight=False)
    if raw.get("unstated"):
        console.print(f"raw views: {raw['unstated']}", highlight=False)
    for note in summary.get("notes", []):
        console.print(f"note: {note}", highlight=False)
    for item in summary["unavailable"]:
        err_console.print(f"skipped {item['task']}/{item['lang']}/{item['split']}: {item['why']}")
    console.print(f"wrote {target} ({summary['elapsed_s']:.1f} s)")


def _import(cfg: Any, run: Path | None, qrels: Path | None, runs: Path | None, sigmoid: str | None,
            temperature: float | None, out: Path | None, overwrite: bool) -> dict[str, Any]:
    """``evaluate --run/--runs``: another system's runs as an evaluate folder (:mod:`clir_calib.evaluation.external`)."""
    from clir_calib.errors import ConfigError
    from clir_calib.evaluation.external import RunFile, import_runs, runs_in_folder

    ev = cfg.evaluate
    if not ev.system or out is None:
        raise ConfigError("importing runs needs --name SYSTEM and --out FOLDER")
    if runs is not None:
        if run or qrels:
            raise ConfigError("give --runs FOLDER or --run FILE --qrels FILE, not both")
        files = runs_in_folder(runs)
    else:
        if run is None or qrels is None or not (len(ev.tasks) == len(ev.langs) == len(ev.splits) == 1):
            raise ConfigError("--run needs --qrels and one --tasks, --langs and --splits value each (e.g. --tasks "
                              "translation --langs de --splits val), or use --runs FOLDER")
        files = [RunFile(ev.tasks[0], ev.langs[0], ev.splits[0], run, qrels)]
    return import_runs(cfg, files, out, ev.system, temperature=temperature, sigmoid=parse_sigmoid(sigmoid),
                       overwrite=overwrite)


def parse_sigmoid(text: str | None) -> tuple[float, float] | None:
    """``"20"`` -> (20, 0); ``"20,-16"`` -> (20, -16); a one-line error for anything else."""
    from clir_calib.errors import ConfigError

    if text is None:
        return None
    try:
        parts = [float(part) for part in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or not all(map(math.isfinite, parts)) or parts[0] <= 0:
        raise ConfigError(f"--sigmoid takes SCALE or SCALE,BIAS (a positive scale, finite numbers), got {text!r}")
    return parts[0], (parts[1] if len(parts) == 2 else 0.0)


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
