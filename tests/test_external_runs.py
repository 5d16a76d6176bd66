"""Any retriever's TREC run as an evaluate folder: round trip, refusals naming file and line, a BM25 run carried
through calibrate --adapt and report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clir_calib.cli import app
from tests.cli_checks import one_line_error

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(app, ["--device", "cpu", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path, tiny_model_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("external") / "tiny"
    _invoke("evaluate", "--prepared", str(prepared_dir), "--teacher", str(tiny_model_dir), "-m", str(tiny_model_dir),
            "--set", f"evaluate.index_dir={out.parent / 'index'}", "--top-k", "10", "--bootstrap", "30",
            "--langs", "de,fr", "--tasks", "translation", "--splits", "val,test_2016_flickr", "--name", "tiny",
            "--no-progress", "--out", str(out))
    return out


def test_evaluates_own_runs_read_back_give_the_same_numbers(evaluated: Path, tmp_path: Path) -> None:
    summary = json.loads((evaluated / "summary.json").read_text())
    raw = summary["raw_views"]
    out = tmp_path / "imported"
    _invoke("evaluate", "--runs", str(evaluated), "--name", "tiny-again", "--bootstrap", "30", "--out", str(out),
            "--temperature", str(raw["temperature"]), "--sigmoid", f"{raw['sigmoid_scale']},{raw['sigmoid_bias']}")
    for entry in ("translation/de/val", "translation/fr/test_2016_flickr"):
        mine = json.loads((out / entry / "metrics.json").read_text())
        theirs = json.loads((evaluated / entry / "metrics.json").read_text())
        for metric in ("AP", "nDCG@10", "RR@10"):
            assert mine["retrieval"][metric]["value"] == pytest.approx(theirs["retrieval"][metric]["value"], abs=1e-9)
        record = json.loads((out / entry / "mteb_result.json").read_text())  # next to MTEB's own results
        (scores,) = record["scores"][entry.rsplit("/", 1)[1]]
        assert scores["main_score"] == scores["ndcg_at_10"] == mine["retrieval"]["nDCG@10"]["value"]
        assert scores["hf_subset"] == f"en-{entry.split('/')[1]}" and record["task_name"] == "clir-calib/translation"
        for view in ("listwise", "pointwise"):
            for metric in ("ece_equal_width", "brier", "cb_ece"):
                assert mine["calibration"][view]["metrics"][metric]["value"] == pytest.approx(
                    theirs["calibration"][view]["metrics"][metric]["value"], abs=1e-6)


def test_without_a_stated_mapping_there_is_no_raw_view_and_calibrate_says_so(evaluated: Path, tmp_path: Path) -> None:
    out = tmp_path / "native"
    printed = _invoke("evaluate", "--runs", str(evaluated), "--name", "native", "--bootstrap", "20", "--out", str(out))
    assert "no stated mapping" in printed
    metrics = json.loads((out / "translation" / "de" / "val" / "metrics.json").read_text())
    assert metrics["calibration"] == {} and metrics["score_diagnostics"]["listwise"] is None
    cal = tmp_path / "cal"
    _invoke("calibrate", "--eval", str(out), "--calibrators", "identity,temperature,platt", "--out", str(cal))
    data = json.loads((cal / "calibration.json").read_text())
    assert {r["calibrator"] for r in data["rows"]} == {"temperature", "platt"}
    assert all(r["ece_equal_width_before"] is None and r["ece_equal_width_after"] is not None for r in data["rows"])
    assert any("identity: no raw" in s["why"] for s in data["skipped"])


BAD_RUNS = {
    "duplicate": ("q1 Q0 d1 1 2.0 x\nq1 Q0 d2 2 1.0 x\nq1 Q0 d1 3 0.5 x\n", "run.trec:3", "twice"),
    "non-finite": ("q1 Q0 d1 1 2.0 x\n\nq1 Q0 d2 2 nan x\n", "run.trec:3", "finite"),
    "unjudged": ("q1 Q0 d1 1 2.0 x\nq1 Q0 d2 2 1.0 x\nq9 Q0 d1 1 2.0 x\n", "run.trec:3", "no judgements"),
    "one candidate": ("q1 Q0 d1 1 2.0 x\nq1 Q0 d2 2 1.0 x\nq2 Q0 d1 1 2.0 x\n", "run.trec:3", "at least 2"),
    "malformed": ("q1 Q0 d1 1 2.0 x\nq1 Q0 d2 two x\n", "run.trec:2", "not a TREC line"),
}


@pytest.mark.parametrize("case", sorted(BAD_RUNS))
def test_a_bad_run_is_one_line_naming_file_and_line_and_nothing_is_written(case: str, tmp_path: Path) -> None:
    text, where, why = BAD_RUNS[case]
    (tmp_path / "run.trec").write_text(text)
    (tmp_path / "qrels.txt").write_text("q1 0 d1 1\nq2 0 d2 1\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["evaluate", "--run", str(tmp_path / "run.trec"), "--qrels", str(tmp_path / "qrels.txt"),
                                 "--name", "x", "--tasks", "translation", "--langs", "de", "--splits", "val",
                                 "--out", str(out)])
    line = one_line_error(result)
    assert where in line and why in line, line
    assert not out.exists()


def test_a_bm25_run_is_calibrated_on_de_val_transferred_with_adapt_and_reported(prepared_dir: Path,
                                                                                tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "docs" / "examples"))
    try:
        from bm25_runs import write_bm25_runs
    finally:
        sys.path.remove(str(REPO / "docs" / "examples"))
    runs = tmp_path / "runs"
    write_bm25_runs(prepared_dir, runs, ["de", "fr", "cs"], ["val", "test_2016_flickr"], k=10)
    evaluated = tmp_path / "bm25-eval"
    _invoke("evaluate", "--runs", str(runs), "--name", "bm25", "--bootstrap", "30", "--out", str(evaluated))
    _invoke("calibrate", "--eval", str(evaluated), "--calibrators", "temperature,platt,isotonic",
            "--adapt", "none,quantile,standardize,mixture,atc", "--set", "calibrate.fewshot_sizes=[4]",
            "--set", "calibrate.fewshot_draws=3", "--no-diagrams")
    calibrated = next(evaluated.glob("calibration*"))
    data = json.loads((calibrated / "calibration.json").read_text())
    after = {(r["calibrator"], r["lang"]) for r in data["rows"] if r["split"] == "test_2016_flickr"}
    assert {("platt", lang) for lang in ("de", "fr", "cs")} <= after
    adapted = {(r["method"], r["lang"]) for r in data["adaptation"] if r["calibrator"] == "platt"}
    assert {("none", "fr"), ("quantile", "cs"), ("oracle", "cs")} <= adapted
    report = tmp_path / "report"
    _invoke("report", str(evaluated), "--out", str(report))
    page = next(report.glob("report-*/report.md")).read_text(encoding="utf-8")
    assert "bm25" in page and "no stated mapping" in page
