"""Shared CLI pieces: global state, consoles, config resolution and option helpers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from clir_calib.config import ExperimentConfig, load_config

console = Console()
err_console = Console(stderr=True)
#: the error lines this process has printed (the console script adds one where Typer exited without any)
ERRORS_SAID: list[str] = []


@dataclass
class State:
    """Global options from the callback, available to every command as ``ctx.obj``."""

    seed: int = 13
    device: str = "auto"
    verbose: int = 0


def configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(message)s", handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


CONFIG_OPTION = typer.Option(None, "--config", "-c", help="Experiment YAML (see configs/).", exists=False)
SET_OPTION = typer.Option(
    None, "--set", help="Dotted override, repeatable: --set distill.lr=3e-5 --set evaluate.bins=10."
)
# Options several commands share, declared once (each command maps them to config keys in its *_OPTIONS)
PREPARED_OPTION = typer.Option(None, "--prepared", help="Prepared data folder (data.prepared).")
DOCUMENTS_OPTION = typer.Option(None, "--documents", "--model", "-m",
                                help="Document encoder: model name/path or distill run folder (evaluate.documents).")
TEACHER_OPTION = typer.Option(None, "--teacher", help="Query encoder (models.teacher.name).")
BASELINE_OPTION = typer.Option(None, "--baseline", help="Registered document baseline (evaluate.baseline); "
                               "parameters: --set evaluate.params.KEY=V.")
LANGS_OPTION = typer.Option(None, "--langs", help="Comma-separated languages (evaluate.langs).")
TASKS_OPTION = typer.Option(None, "--tasks", help="Comma-separated tasks (evaluate.tasks).")
SPLITS_OPTION = typer.Option(None, "--splits", help="Comma-separated splits (evaluate.splits).")
PROGRESS_OPTION = typer.Option(True, "--progress/--no-progress", help="Show encoding progress bars.")


def resolve_config(
    ctx: typer.Context,
    config_path: Path | None,
    overrides: list[str] | None,
    flags: dict[str, Any] | None = None,
    options: Mapping[str, str] | None = None,
) -> ExperimentConfig:
    """Config file, then command flags (as dotted overrides, when given), then ``--set``.

    ``options`` maps a command's option names to the config keys they set (``{"langs": "evaluate.langs"}``):
    their values are read from ``ctx.params``, so a command declares the mapping once instead of copying
    every value by hand. The global ``--seed``/``--device`` fill ``seed``/``device`` unless the file or
    ``--set`` does.
    """
    import yaml

    flags = dict(flags or {})
    for option, key in (options or {}).items():
        value = ctx.params.get(option)
        flags.setdefault(key, str(value) if isinstance(value, Path) else value)
    st = state(ctx)
    root = ctx.find_root()
    dotted: list[str] = []
    for name in ("seed", "device"):
        source = root.get_parameter_source(name)
        if source is not None and source.name != "DEFAULT":
            dotted.append(f"{name}={getattr(st, name)}")
    for key, value in flags.items():
        if value is None:
            continue
        dotted.append(f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}")
    return load_config(config_path, dotted + list(overrides or []))


def print_table(table: Any) -> None:
    """Tables wrap to a terminal; in logs, files and pipes they keep their natural width (numbers never cut)."""
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=400, no_color=console.no_color, highlight=False).print(table)


def data_table(caption: str, headers: list[str], rows: list[list[str]], label_columns: int = 2) -> Any:
    """A rich table of strings: the first ``label_columns`` left-aligned, numbers right-aligned."""
    from rich import box
    from rich.table import Table

    table = Table(title=caption, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < label_columns else "right", no_wrap=True)
    for row in rows:
        table.add_row(*[str(cell).replace("**", "") for cell in row])
    return table
