"""Packaging: no warnings about our own pyproject files; optional features are extras, not requirements."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = [ROOT, *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_pyproject_uses_the_current_metadata_forms(project: Path) -> None:
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    license_value = data["project"].get("license")
    assert license_value is None or isinstance(license_value, str)  # SPDX string, not the deprecated table
    assert not any(r.startswith("setuptools>=6") for r in data["build-system"]["requires"])


def test_optional_features_are_extras_and_the_readme_names_them() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    core = " ".join(data["project"]["dependencies"])
    extras = data["project"]["optional-dependencies"]
    for optional in ("faiss-cpu", "sacrebleu", "tensorboard", "sentence-transformers", "playwright"):
        assert optional not in core, optional
    assert {"faiss", "nmt", "st", "tensorboard", "wandb", "mlflow", "dev"} <= set(extras)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for extra in ("[faiss]", "[nmt]", "[dev]", "[tensorboard]", "[st]"):
        assert extra in readme, extra


@pytest.mark.slow
@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_building_the_wheel_prints_no_packaging_warning(project: Path, tmp_path: Path) -> None:
    """Built from a copy: setuptools writes build/ and *.egg-info next to the sources it builds, and those
    left in the checkout make mypy see every plugin module twice."""
    import shutil

    source = tmp_path / "source"
    shutil.copytree(project, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "build", "*.egg-info", ".*_cache", ".hypothesis", "__pycache__"))
    wheels = tmp_path / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr
    flagged = [line for line in output.splitlines()
               if "DeprecationWarning" in line or "BuildBackendWarning" in line or "SetuptoolsWarning" in line]
    assert flagged == []
    assert list(wheels.glob("*.whl"))
