"""The CLI layer: help texts, global options, plugin listing, one-line errors with exit code 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clir_calib.cli import app

runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("prepare", "distill", "index", "evaluate", "calibrate", "run", "plugins"):
        assert command in result.output


def test_each_command_documents_its_options():
    for command in ("prepare", "distill", "index", "evaluate", "calibrate", "run"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "--set" in result.output  # every config-driven command takes dotted overrides


def test_plugins_json_lists_params_and_defaults():
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    listing = json.loads(result.output)
    mse = next(loss for loss in listing["alignment_losses"] if loss["name"] == "mse")
    assert mse["params"][0] == {
        "name": "include_source",
        "type": "bool",
        "default": False,
        "help": "also pull student(en) towards teacher(en)",
    }
    assert "Reimers" in mse["citation"]


def test_plugins_table_renders():
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    assert "Alignment losses" in result.output and "mse" in result.output


def test_bad_global_device_is_a_usage_error():
    result = runner.invoke(app, ["--device", "tpu", "plugins"])
    assert result.exit_code == 2
    assert "tpu" in result.output


def test_user_errors_are_one_line_with_exit_code_2_under_clirunner(tmp_path):
    result = runner.invoke(app, ["prepare", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert not (tmp_path / "o").exists()


def test_user_errors_from_the_console_script(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "clir_calib", "prepare", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert out.stderr.strip().startswith("Error:") and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
