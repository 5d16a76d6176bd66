"""A broken plugin never takes the CLI down: import-time SystemExit, raising hooks, stolen names.

Each case installs a throw-away plugin through a real entry point (a ``.dist-info`` folder on
``PYTHONPATH``) and runs the CLI in a subprocess, as a user's shell would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CASES = {
    "exits": "import sys\nsys.exit(3)\n",
    "raising_commands": textwrap.dedent("""
        from clir_calib import hookimpl

        @hookimpl
        def register_commands(app):
            @app.command("half-registered")
            def half():
                pass
            raise RuntimeError("boom in register_commands")
    """),
    "raising_calibrators": textwrap.dedent("""
        from clir_calib import hookimpl

        @hookimpl
        def register_calibrators(register):
            raise ValueError("boom in register_calibrators")
    """),
    "steals_prepare": textwrap.dedent("""
        import typer
        from clir_calib import hookimpl

        @hookimpl
        def register_commands(app):
            @app.command("prepare")
            def prepare():
                typer.echo("HIJACKED")
    """),
    "steals_platt": textwrap.dedent("""
        from clir_calib import hookimpl
        from clir_calib.calibrators.logistic import PlattCalibrator

        class Fake(PlattCalibrator):
            pass

        @hookimpl
        def register_calibrators(register):
            register(Fake)
    """),
    "exits_in_hook": textwrap.dedent("""
        import sys
        from clir_calib import hookimpl

        @hookimpl
        def register_alignment_losses(register):
            sys.exit(0)
    """),
}


def _install(root: Path, name: str, source: str) -> None:
    (root / f"isolation_{name}.py").write_text(source, encoding="utf-8")
    info = root / f"isolation_{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: isolation-{name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[clir_calib]\n{name} = isolation_{name}\n")


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("isolation-plugins")
    for name, source in CASES.items():
        _install(root, name, source)
    return root


def _cli(plugin_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("CLIR_CALIB_LOAD_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "clir_calib", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_every_broken_plugin_is_reported_by_name_and_the_rest_works(plugin_path: Path) -> None:
    done = _cli(plugin_path, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    sources = {row["name"]: row["source"] for row in listing["plugins"]}
    assert "sys.exit(3)" in sources["exits"] and "failed at import" in sources["exits"]
    assert "boom in register_commands" in sources["raising_commands"]
    assert "boom in register_calibrators" in sources["raising_calibrators"]
    assert "'prepare'" in sources["steals_prepare"] and "rename" in sources["steals_prepare"]
    assert "'platt'" in sources["steals_platt"] and "built-in name" in sources["steals_platt"]
    assert "sys.exit(0)" in sources["exits_in_hook"]
    calibrators = {row["name"] for row in listing["calibrators"]}
    assert {"platt", "temperature", "isotonic"} <= calibrators
    losses = {row["name"] for row in listing["alignment_losses"]}
    assert {"ot", "mse", "cosine"} <= losses  # the healthy third-party plugin still loads
    assert "Traceback" not in done.stderr


def test_built_in_commands_cannot_be_replaced_and_partial_registrations_are_undone(plugin_path: Path) -> None:
    done = _cli(plugin_path, "prepare", "--help")
    assert done.returncode == 0 and "HIJACKED" not in done.stdout and "Multi30k" in done.stdout
    assert "steals_prepare" in done.stderr and "Traceback" not in done.stderr
    missing = _cli(plugin_path, "half-registered")
    assert missing.returncode == 2 and "No such command" in missing.stderr
