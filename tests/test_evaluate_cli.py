"""End to end: index + evaluate + compare through the CLI on the fake prepared data and a tiny model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import ir_measures
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from clir_calib import plugins
from clir_calib.baselines import DocumentBaseline
from clir_calib.cli import app
from clir_calib.hookspecs import hookimpl
from clir_calib.retrieval.scored import ScoredRun

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ReversedWords(DocumentBaseline):
    """Test baseline: reverses each document's word order (the teacher then encodes it)."""

    name = "reversed-words"
    calls: list[tuple[str, str, int]] = []

    def transform_corpus(self, doc_ids, texts, context):
        ReversedWords.calls.append((context.task, context.lang, len(texts)))
        return [" ".join(reversed(text.split())) for text in texts]


class BaselinePlugin:
    @hookimpl
    def register_baselines(self, register):
        register(ReversedWords)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path, tiny_model_dir: Path) -> Path:
    return tmp_path_factory.mktemp("evaluate-cli")


def _common(work: Path, prepared: Path, model: Path) -> list[str]:
    return ["--prepared", str(prepared), "--teacher", str(model), "--set", f"evaluate.index_dir={work / 'index'}",
            "--top-k", "10", "--bootstrap", "50", "--no-progress"]


def _invoke(args: list[str]):
    result = runner.invoke(app, ["--device", "cpu", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def evaluated(work: Path, prepared_dir: Path, tiny_model_dir: Path) -> Path:
    common = _common(work, prepared_dir, tiny_model_dir)
    indexed = _invoke(["index", *common[:-5], "--langs", "de,fr", "--splits", "test_2016_flickr", "-m",
                       str(tiny_model_dir)])
    assert "encoded" in indexed.output
    again = _invoke(["index", *common[:-5], "--langs", "de,fr", "--splits", "test_2016_flickr", "-m",
                     str(tiny_model_dir)])
    assert "encoded" not in again.output and "reused" in again.output
    out = work / "eval-a"
    result = _invoke(["evaluate", *common, "-m", str(tiny_model_dir), "--langs", "de,fr", "--splits",
                      "test_2016_flickr", "--name", "tiny", "--out", str(out)])
    assert "MAP" in result.output and "ECE-w" in result.output
    return out


def test_evaluate_folder_layout_and_cache_use(evaluated: Path) -> None:
    summary = json.loads((evaluated / "summary.json").read_text())
    config = yaml.safe_load((evaluated / "config.yaml").read_text())
    assert config["evaluate"]["top_k"] == 10 and config["evaluate"]["system"] == "tiny"
    keys = {(e["task"], e["lang"], e["split"]) for e in summary["entries"]}
    assert keys == {(t, lg, "test_2016_flickr") for t in ("translation", "description") for lg in ("de", "fr")}
    for entry in summary["entries"]:
        folder = evaluated / entry["path"]
        for name in ("run.trec", "scored.npz", "per_query.jsonl", "metrics.json", "views.npz"):
            assert (folder / name).is_file(), name
        for view in ("listwise", "pointwise"):  # the default, as in the study: equal-width diagrams only
            assert (folder / f"reliability_{view}_equal_width.png").read_bytes()[:8] == PNG_MAGIC
            assert not (folder / f"reliability_{view}_equal_mass.png").exists()
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["timing_s"]["documents_cached"] == 1.0  # index ran first
        for view in ("listwise", "pointwise"):
            cal = metrics["calibration"][view]
            assert set(cal["metrics"]) == {"ece_equal_width", "ece_equal_mass", "mce", "brier", "nll", "smece",
                                           "ece_debiased", "auroc", "brier_reliability", "brier_resolution",
                                           "brier_uncertainty", "aurc", "cb_ece"}
            assert set(cal["ece_bin_sensitivity"]) == {"5", "10", "15", "20", "30"}
            assert len(cal["risk_coverage"]["coverage"]) == len(cal["risk_coverage"]["risk"]) == 100
            assert sum(cal["equal_width_bins"]["count"]) == cal["n"]
            ece = cal["metrics"]["ece_equal_width"]
            assert ece["low"] <= ece["value"] <= ece["high"]
        assert metrics["calibration"]["listwise"]["n"] == metrics["n_queries"]
        assert metrics["calibration"]["pointwise"]["n"] == metrics["n_queries"] * 10
        for values in metrics["retrieval"].values():
            assert values["low"] <= values["value"] <= values["high"]


def test_run_files_reproduce_the_metrics_with_ir_measures(evaluated: Path, prepared_dir: Path) -> None:
    for task in ("translation", "description"):
        folder = evaluated / task / "fr" / "test_2016_flickr"
        qrels = list(ir_measures.read_trec_qrels(str(prepared_dir / "tasks" / task / "fr" / "test_2016_flickr" / "qrels.txt")))
        run = list(ir_measures.read_trec_run(str(folder / "run.trec")))
        ours = json.loads((folder / "metrics.json").read_text())["retrieval"]
        measures = [ir_measures.AP, ir_measures.nDCG @ 10, ir_measures.R @ 1, ir_measures.R @ 5, ir_measures.R @ 10]
        theirs = ir_measures.pytrec_eval.calc_aggregate(measures, qrels, run)
        for measure in measures:
            assert ours[str(measure)]["value"] == pytest.approx(theirs[measure], abs=1e-9), (task, str(measure))
        # RR@10: trec_eval's RR (same tie order as ours) wherever the first relevant is in the top 10
        rr = {m.query_id: m.value for m in ir_measures.pytrec_eval.iter_calc([ir_measures.RR], qrels, run)}
        per_query = [json.loads(line) for line in (folder / "per_query.jsonl").read_text().splitlines()]
        assert [p["qid"] for p in per_query] == [r.query_id for r in ir_measures.read_trec_run(str(folder / "run.trec"))][::10]
        for row in per_query:
            if row["RR@10"] > 0:
                assert row["RR@10"] == pytest.approx(rr[row["qid"]])
        assert np.mean([row["RR@10"] for row in per_query]) == pytest.approx(ours["RR@10"]["value"])


def test_each_run_comes_with_the_qrels_it_was_scored_against(work: Path, prepared_dir: Path,
                                                            tiny_model_dir: Path) -> None:
    """With max_images the run covers a subset of the queries: the folder's own qrels.txt covers exactly
    those, so ir_measures on the folder's pair gives metrics.json's numbers (the prepared qrels do not)."""
    out = work / "eval-max-images"
    _invoke(["evaluate", *_common(work, prepared_dir, tiny_model_dir), "-m", str(tiny_model_dir), "--langs", "cs",
             "--set", "evaluate.max_images=4", "--set", "evaluate.tasks=[translation]", "--out", str(out)])
    folder = out / "translation" / "cs" / "test_2016_flickr"
    own = list(ir_measures.read_trec_qrels(str(folder / "qrels.txt")))
    run = list(ir_measures.read_trec_run(str(folder / "run.trec")))
    assert {q.query_id for q in own} == {r.query_id for r in run}
    ours = json.loads((folder / "metrics.json").read_text())["retrieval"]
    measures = [ir_measures.AP, ir_measures.nDCG @ 10, ir_measures.R @ 1]
    theirs = ir_measures.pytrec_eval.calc_aggregate(measures, own, run)
    for measure in measures:
        assert ours[str(measure)]["value"] == pytest.approx(theirs[measure], abs=1e-9), str(measure)
    prepared = prepared_dir / "tasks" / "translation" / "cs" / "test_2016_flickr" / "qrels.txt"
    everything = list(ir_measures.read_trec_qrels(str(prepared)))
    assert len({q.query_id for q in everything}) > len({q.query_id for q in own})


def test_scored_run_matches_qrels(evaluated: Path, prepared_dir: Path) -> None:
    from clir_calib.data.store import load_task

    task = load_task(prepared_dir, "description", "de", "test_2016_flickr")
    run = ScoredRun.load(evaluated / "description" / "de" / "test_2016_flickr" / "scored.npz")
    assert run.qids == [q for q in task.queries if q in task.qrels]
    for qid, docs, labels, n_rel in zip(run.qids, run.doc_ids, run.labels, run.n_relevant, strict=True):
        relevant = {d for d, r in task.qrels[qid].items() if r > 0}
        assert n_rel == len(relevant)
        assert labels.tolist() == [int(d in relevant) for d in docs]


@pytest.fixture
def baseline_plugin() -> Iterator[None]:
    plugins.load_plugins()
    plugins.pm.register(BaselinePlugin(), name="test-baseline")
    try:
        yield
    finally:
        plugins.pm.unregister(name="test-baseline")


def test_hook_register_baselines(
    evaluated: Path, work: Path, prepared_dir: Path, tiny_model_dir: Path, baseline_plugin: None
) -> None:
    from clir_calib.plugins import CALIBRATORS

    common = _common(work, prepared_dir, tiny_model_dir)
    b_out = work / "eval-b"
    _invoke(["evaluate", *common, "--baseline", "reversed-words", "--langs", "de", "--tasks", "translation",
             "--out", str(b_out)])
    assert ("translation", "de", 12) in ReversedWords.calls
    b_summary = json.loads((b_out / "summary.json").read_text())
    assert b_summary["system"]["documents"]["baseline"] == "reversed-words"

    # a calibrator fitted by the calibrators' own code, applied by evaluate
    run = ScoredRun.load(evaluated / "translation" / "de" / "test_2016_flickr" / "scored.npz")
    scores, labels, groups = run.flat()
    calibrator_file = work / "platt.json"
    CALIBRATORS.get("platt")().fit(scores, labels, groups).save(calibrator_file)
    c_out = work / "eval-c"
    _invoke(["evaluate", *common, "-m", str(tiny_model_dir), "--langs", "de", "--tasks", "translation",
             "--calibrator", str(calibrator_file), "--name", "tiny+platt", "--set", "evaluate.diagrams=all",
             "--out", str(c_out)])
    metrics = json.loads((c_out / "translation" / "de" / "test_2016_flickr" / "metrics.json").read_text())
    assert "calibrated" in metrics["calibration"] and "platt" in metrics["calibration"]["calibrated"]["description"]
    assert (c_out / "translation" / "de" / "test_2016_flickr" / "reliability_calibrated_equal_mass.png").is_file()

    twin = work / "eval-a-twin"
    shutil.copytree(evaluated, twin)
    cmp_out = work / "comparison"
    result = _invoke(["evaluate", "--compare", str(evaluated), str(twin), str(b_out), str(c_out), "--reference",
                      "tiny", "--out", str(cmp_out), "--set", "evaluate.permutations=50"])
    assert "translation · test_2016_flickr · retrieval" in result.output
    data = json.loads((cmp_out / "comparison.json").read_text())
    cells = [c for t in data["tables"] for c in t["cells"]]
    twin_cells = [c for c in cells if c["system"] == "tiny (eval-a-twin)"]
    assert twin_cells and all(c["p_value"] == 1.0 and not c["significant"] for c in twin_cells)
    assert all(c["p_value"] is None for c in cells if c["system"] == "tiny")
    groups_seen = {(t["task"], t["group"]) for t in data["tables"]}
    assert ("translation", "calibrated") in groups_seen and ("description", "pointwise") in groups_seen
    retrieval = next(t for t in data["tables"] if t["task"] == "translation" and t["group"] == "retrieval")
    for lang, metric in (("de", "AP"), ("fr", "nDCG@10")):
        column = [c for c in retrieval["cells"] if c["lang"] == lang and c["metric"] == metric]
        best = max(c["value"] for c in column)
        assert all(c["best"] == (c["value"] == best) for c in column)
    markdown = (cmp_out / "comparison.md").read_text()
    assert "| System |" in markdown and "de MAP↑" in markdown and "**" in markdown
    csv_lines = (cmp_out / "comparison.csv").read_text().splitlines()
    assert csv_lines[0].startswith("task,split,group,system,lang,metric,value,low,high,p_value")
    assert len(csv_lines) == 1 + len(cells)
    from tests.test_latex_tables import check_structure

    latex = (cmp_out / "comparison.tex").read_text()
    compact = (cmp_out / "comparison_compact.tex").read_text()
    check_structure(latex)
    check_structure(compact)
    assert latex.count(r"\begin{tabular}") == len(data["tables"])
    assert r"de MAP$\uparrow$" in latex and r"\textbf{" in latex and "[" in latex.split(r"\midrule")[1]
    assert "[" not in compact.split(r"\midrule")[1].split(r"\bottomrule")[0]


def _fails(args: list[str], match: str) -> None:
    result = runner.invoke(app, ["--device", "cpu", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip() and "Warning" not in line]
    assert len(lines) == 1 and lines[0].startswith("Error:") and match in lines[0], result.output


def test_bad_input_is_a_one_line_error(evaluated: Path, work: Path, prepared_dir: Path, tiny_model_dir: Path) -> None:
    common = _common(work, prepared_dir, tiny_model_dir)
    _fails(["evaluate", *common, "-m", str(tiny_model_dir), "--out", str(evaluated)], "--overwrite")
    _fails(["evaluate", *common, "--langs", "de,xx", "--out", str(work / "x")], "unknown language 'xx'")
    _fails(["evaluate", *common, "--tasks", "captioning", "--out", str(work / "x")], "unknown task")
    _fails(["evaluate", *common, "--baseline", "nope", "--out", str(work / "x")], "unknown baseline 'nope'")
    _fails(["evaluate", *common, "--baseline", "nope", "-m", str(tiny_model_dir), "--out", str(work / "x")], "exclude")
    _fails(["evaluate", *common, "--calibrator", str(work / "missing.json"), "--out", str(work / "x")], "not found")
    _fails(["evaluate", "--compare", str(work)], "not an evaluate folder")
    _fails(["evaluate", str(evaluated)], "only for --compare")
    _fails(["evaluate", "--compare", str(evaluated), "--reference", "nobody"], "reference system 'nobody'")
    assert not (work / "x").exists()
