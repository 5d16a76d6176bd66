"""The notebook API: docs/notebook.ipynb runs (nbclient) on a tiny model, and its numbers are the CLI's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clir_calib import api
from clir_calib.cli import app

REPO = Path(__file__).resolve().parents[1]


def test_the_notebook_runs_and_matches_the_cli(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path / "notebook"
    for name, value in (("DATA", prepared_dir), ("MODEL", tiny_model_dir), ("OUT", out)):
        monkeypatch.setenv(f"CLIR_CALIB_NOTEBOOK_{name}", str(value))
    notebook = nbformat.read(REPO / "docs" / "notebook.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    printed = [o for cell in notebook.cells for o in cell.get("outputs", [])
               if o.get("output_type") == "stream" and o.get("name") == "stdout"]
    assert not printed, printed  # the library prints nothing (third-party warnings go to stderr)

    cli = tmp_path / "cli"
    result = CliRunner().invoke(app, [
        "evaluate", "-m", str(tiny_model_dir), "--teacher", str(tiny_model_dir), "--prepared", str(prepared_dir),
        "--name", "base", "--langs", "de,fr,cs", "--splits", "val,test_2016_flickr", "--tasks", "translation",
        "--top-k", "20", "--bootstrap", "100", "--out", str(cli), "--no-progress",
        "--set", f"evaluate.index_dir={tmp_path / 'cli-index'}"])
    assert result.exit_code == 0, result.output
    for entry in ("translation/de/val", "translation/cs/test_2016_flickr"):
        mine = json.loads((out / "eval" / entry / "metrics.json").read_text())
        theirs = json.loads((cli / entry / "metrics.json").read_text())
        assert mine["retrieval"] == theirs["retrieval"] and mine["calibration"] == theirs["calibration"]
    assert (out / "eval" / "calibration-de-val" / "calibration.json").is_file()
    assert next((out / "report").glob("report-*/report.html")).is_file()


def test_results_come_back_as_dataframes_and_the_paths_written(prepared_dir: Path, tiny_model_dir: Path,
                                                                tmp_path: Path) -> None:
    ev = api.evaluate(tiny_model_dir, data=prepared_dir, teacher=str(tiny_model_dir), name="tiny", langs=["de", "fr"],
                      splits=["val", "test_2016_flickr"], tasks=["translation"], top_k=10, bootstrap=20,
                      out=tmp_path / "eval", overrides={"evaluate.index_dir": str(tmp_path / "index"), "device": "cpu"})
    frame = ev.to_pandas()
    assert set(frame.columns) >= {"system", "lang", "split", "group", "metric", "value", "low", "high"}
    ap = frame.query("lang == 'de' and split == 'val' and metric == 'AP'")["value"].item()
    assert ap == ev.summary["entries"][0]["retrieval"]["AP"]["value"]
    assert ev.path / "summary.json" in ev.paths
    cal = api.calibrate(ev.path, calibrators=["temperature"], adapters=["none", "atc"], bounds=["oracle"])
    rows = cal.to_pandas()
    assert set(rows["lang"]) == {"de", "fr"} and "ece_equal_width_after" in rows
    assert set(cal.adaptation()["method"]) >= {"none", "atc", "oracle"}
    rep = api.report([ev.path], out=tmp_path / "report")
    tables = rep.to_pandas()
    assert "per_seed" in tables and len(tables["per_seed"]) > 0
    assert rep.report_html.is_file() and rep.latest is not None


def test_bad_keyword_values_are_the_cli_s_one_line_errors(prepared_dir: Path, tmp_path: Path) -> None:
    from clir_calib.errors import ConfigError

    with pytest.raises(ConfigError, match="top_k"):
        api.evaluate("x", data=prepared_dir, top_k=0, out=tmp_path / "e")
    assert not (tmp_path / "e").exists()
