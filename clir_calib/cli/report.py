"""`clir-calib report`: the study report from evaluate (and calibrate) folders, or two reports side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION, console, err_console


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        folders: list[Path] = typer.Argument(..., help="Evaluate folders (one per run; seeds of a method share its "
                                             "name), or with --compare two report folders."),
        out: Path = typer.Option(Path("runs/report"), "--out", "-o", help="Where report-<hash>/ and latest go."),
        calibrations: list[Path] | None = typer.Option(None, "--calibration", help="Each evaluate folder's calibrate "
                                                       "folder, in order (default: the one inside it)."),
        compare: bool = typer.Option(False, "--compare", help="Put two report folders side by side instead."),
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """The full study report (answer, headline, differences, calibration by view, label-free transfer, LaTeX,
        HTML) from folders written by `evaluate` and `calibrate`, the same function `run` calls."""
        from clir_calib import api
        from clir_calib.pipeline.folders_report import compare_reports

        if compare:
            render_compare(compare_reports(*_two(folders), out))
            return
        render_report(api.report(folders, out=out, calibrations=calibrations, config=config, overrides=overrides,
                                 announce=lambda text: err_console.log(text)))


def _two(folders: list[Path]) -> tuple[Path, Path]:
    from clir_calib.errors import ConfigError

    if len(folders) != 2:
        raise ConfigError(f"--compare takes two report folders, got {len(folders)}")
    return folders[0], folders[1]


def render_report(result: Any) -> None:
    console.print(f"report: {result.report_md} · {result.report_html} (latest: {result.latest})")


def render_compare(path: Path) -> None:
    console.print(f"wrote {path}")
