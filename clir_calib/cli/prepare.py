"""`clir-calib prepare`: turn a dataset into bitext and retrieval tasks (datasets + TREC files)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION, console, err_console, resolve_config

if TYPE_CHECKING:  # the data layer imports `datasets` (~0.6 s): only when a command needs it
    from clir_calib.data.prepare import PrepareSummary

#: prepare's options and the config keys they set
PREPARE_OPTIONS = {"dataset": "data.dataset", "source": "data.source", "url": "data.url", "out": "data.prepared",
                   "langs": "data.langs", "splits": "data.splits"}


def summary_tables(summary: PrepareSummary) -> list[Table]:
    """Counts per language/split (bitext) and per split/language/task (retrieval)."""
    bitext = Table(title="Bitext (en, xx) pairs", title_justify="left")
    for column in ("lang", "split"):
        bitext.add_column(column, style="cyan")
    bitext.add_column("pairs", justify="right")
    for count in summary.bitext:
        bitext.add_row(count.lang, count.split, f"{count.pairs:,}")
    tasks = Table(title="Retrieval tasks", title_justify="left")
    for column in ("split", "lang", "task"):
        tasks.add_column(column, style="cyan")
    for column in ("queries", "documents", "qrels"):
        tasks.add_column(column, justify="right")
    for t in sorted(
        summary.tasks, key=lambda t: (summary.splits.index(t.split), summary.langs.index(t.lang))
    ):
        tasks.add_row(t.split, t.lang, t.task, f"{t.queries:,}", f"{t.documents:,}", f"{t.qrels:,}")
    return [table for table in (bitext, tasks) if table.row_count]


def register(app: typer.Typer) -> None:
    @app.command("prepare")
    def prepare(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
        dataset: str | None = typer.Option(
            None, "--dataset", help="Registered dataset: multi30k (default), folder (BEIR/TREC files on disk), a plugin's."
        ),
        source: Path | None = typer.Option(
            None,
            "--source",
            help="Source folder: Multi30k in the official data/ layout (default: $CLIR_CALIB_MULTI30K, else "
            "../shared/data/multi30k), or a collection with one folder per language (--dataset folder).",
        ),
        url: str | None = typer.Option(
            None,
            "--url",
            help="Base URL of the official raw files (the repository's data/ folder); cached in "
            "$CLIR_CALIB_CACHE or ~/.cache/clir-calib/multi30k with sha256 checksums.",
        ),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Output folder (default: data.prepared of the config)."
        ),
        langs: str | None = typer.Option(
            None, "--langs", help="Comma-separated target languages (de,fr,cs)."
        ),
        splits: str | None = typer.Option(
            None, "--splits", help="Comma-separated splits (Multi30k: any found, e.g. train,val,test_2016_flickr,"
            "test_2018_flickr; a folder collection: its qrels/SPLIT names)."
        ),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    ) -> None:
        """Turn a dataset (Multi30k, or a collection on disk) into bitext and retrieval tasks."""
        from clir_calib import api

        cfg = resolve_config(ctx, config, overrides, options=PREPARE_OPTIONS)
        render_summary(api.prepare(config=cfg, overwrite=overwrite).summary)


def render_summary(summary: PrepareSummary) -> None:
    for table in summary_tables(summary):
        console.print(table)
    for note in summary.notes:
        err_console.print(f"[yellow]Note:[/] {note}", highlight=False)
    console.print(f"Prepared {summary.out} from {summary.source} in {summary.seconds:.1f} s "
                  f"({len(summary.inputs)} input files, sha256 in manifest.json)", highlight=False)
