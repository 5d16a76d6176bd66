"""docs/cli.md is what the commands' --help prints today (regenerate: python -m clir_calib.cli.reference)."""

from __future__ import annotations

from pathlib import Path

from clir_calib.cli import app
from clir_calib.cli.reference import command_names, reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_the_checked_in_cli_reference_matches_the_commands() -> None:
    generated = reference(app)
    assert DOC.read_text(encoding="utf-8") == generated, (
        "docs/cli.md is out of date: run `python -m clir_calib.cli.reference > docs/cli.md`")


def test_every_command_is_in_the_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in command_names(app):
        assert f"## `clir-calib {name}`" in text, name
