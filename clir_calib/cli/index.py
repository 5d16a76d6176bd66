"""`clir-calib index`: encode tasks' corpora (and queries) into the embedding cache evaluate reads."""

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
    print_table,
    resolve_config,
)

#: index's options and the config keys they set
INDEX_OPTIONS = {
    "prepared": "data.prepared", "documents": "evaluate.documents", "teacher": "models.teacher.name",
    "baseline": "evaluate.baseline", "langs": "evaluate.langs", "tasks": "evaluate.tasks",
    "splits": "evaluate.splits", "index_dir": "evaluate.index_dir",
}


def register(app: typer.Typer) -> None:
    @app.command("index")
    def index(
        ctx: typer.Context,
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
        prepared: Path | None = PREPARED_OPTION,
        documents: str | None = DOCUMENTS_OPTION,
        teacher: str | None = TEACHER_OPTION,
        baseline: str | None = BASELINE_OPTION,
        langs: str | None = LANGS_OPTION,
        tasks: str | None = TASKS_OPTION,
        splits: str | None = SPLITS_OPTION,
        index_dir: Path | None = typer.Option(None, "--index-dir", help="Embedding cache folder (evaluate.index_dir)."),
        queries: bool = typer.Option(True, "--queries/--no-queries", help="Also encode the queries."),
        progress: bool = PROGRESS_OPTION,
    ) -> None:
        """Encode a task's corpus and store the embeddings for evaluate (unchanged inputs are reused)."""
        from clir_calib.evaluation.encoding import build_index
        from clir_calib.evaluation.system import load_system

        cfg = resolve_config(ctx, config, overrides, options=INDEX_OPTIONS)
        system = load_system(cfg, device=cfg.device)
        render_records(system.name, build_index(cfg, system, progress=progress, queries=queries))


def render_records(name: str, records: list[dict[str, Any]]) -> None:
    table = Table(title=f"embedding cache for {name}")
    for column in ("task", "lang", "split", "kind", "count", "dim", "status", "path"):
        table.add_column(column)
    for r in records:
        table.add_row(r["task"], r["lang"], r["split"], r["kind"], str(r["count"]), str(r["dim"]),
                      "reused" if r["reused"] else "encoded", r["path"])
    print_table(table)
