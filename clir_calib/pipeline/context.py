"""The one context every report section is a function of: the study's results, its config, the output folder.

A section writes through the context, so every table reaches the Markdown, HTML and LaTeX report, the terminal
and ``tables.json`` from one call, and every section, built-in or a plugin's, has the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clir_calib.config import ExperimentConfig
from clir_calib.pipeline.results import MethodOutputs
from clir_calib.pipeline.seed_stats import SeedValues, SystemRuns, group_runs, seed_values
from clir_calib.pipeline.stages import StageResult
from clir_calib.report import Report


@dataclass
class ReportContext:
    """What a report section reads (``cfg``, ``methods``, ``systems``, ``folder``) and writes through."""

    cfg: ExperimentConfig
    methods: list[MethodOutputs]
    folder: Path
    report: Report
    stages: list[StageResult] = field(default_factory=list)
    announce: Callable[[str], None] = lambda text: None
    terminal: list[dict[str, Any]] = field(default_factory=list)  # every table, for the terminal and tables.json
    records: dict[str, Any] = field(default_factory=dict)  # more data for tables.json, by key

    @property
    def systems(self) -> list[SystemRuns]:
        """The evaluated runs grouped by system (method and data size), in config order."""
        return group_runs(self.methods)

    @property
    def evaluated(self) -> list[MethodOutputs]:
        return [m for m in self.methods if m.eval_dir is not None]

    def heading(self, text: str, level: int = 2) -> None:
        self.report.heading(text, level)

    def paragraph(self, text: str) -> None:
        self.report.paragraph(text)

    def table(self, headers: list[str], rows: list[list[str]], caption: str = "") -> None:
        """One table into the report (Markdown, HTML, LaTeX), the terminal and ``tables.json``."""
        self.report.table(headers, rows, caption=caption)
        self.terminal.append({"caption": caption, "headers": headers, "rows": rows})

    def images(self, paths: list[Path], captions: list[str] | None = None, columns: int = 3) -> None:
        self.report.images(paths, captions, columns=columns)

    def record(self, key: str, value: Any) -> None:
        """Data a section adds to ``tables.json`` under ``key``."""
        self.records[key] = value

    def values(self, system: SystemRuns, task: str, lang: str, split: str, group: str, metric: str) -> SeedValues:
        """Per seed, one metric of one entry (``group``: retrieval or a calibration view)."""
        return seed_values(system, task, lang, split, group, metric)
