"""One source for every default: single commands give the study's numbers (issue "Right off the rails").

Each test here failed before that change: defaults that differed from the study's (temperature 1.0, select
last, top-k/bootstrap), a run's teacher ignored, bitext dropped, calibrate's targets fixed to de/fr/cs,
significance without size, thin fits passing silently, and a CLI that imported torch before answering.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.config import load_config, to_dict
from clir_calib.models.temperature import FALLBACK_TEMPERATURE, resolve_temperature
from tests.test_calibration_transfer import make_eval_dir

ROOT = Path(__file__).resolve().parents[1]
RUNNER = CliRunner()

#: what the default study sets on purpose to something other than the default, and why
STUDY_CHOICES = {
    "name": "the study's name",
    "output_dir": "where the study writes",
    "models.teacher.max_length": "Multi30k captions: 64 tokens cover 99.9% of texts; longer documents need more",
    "models.student.max_length": "as the teacher's",
    "calibrate.adapt_tasks": "the headline task only: the description task's lists are 5x larger (time)",
}


def _leaves(data: Any, where: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and not where.endswith("params") and data:
        found: dict[str, Any] = {}
        for key, value in data.items():
            found.update(_leaves(value, f"{where}.{key}" if where else str(key)))
        return found
    return {where: data}


def _get(data: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        data = data[key]
    return data


def test_every_value_of_the_default_study_is_the_default() -> None:
    study = yaml.safe_load((ROOT / "configs" / "multi30k-zero-shot.yaml").read_text(encoding="utf-8"))
    defaults = to_dict(load_config(None))
    resolved = to_dict(load_config(ROOT / "configs" / "multi30k-zero-shot.yaml"))
    differing = {key for key in _leaves(study) if _get(resolved, key) != _get(defaults, key)}
    assert differing == set(STUDY_CHOICES), sorted(differing ^ set(STUDY_CHOICES))
    assert defaults["distill"]["select"] == "best" and defaults["evaluate"]["top_k"] == 100
    assert defaults["evaluate"]["bootstrap"] == 1000 and defaults["evaluate"]["temperature"] is None


def test_the_listwise_temperature_comes_from_the_model(tmp_path: Path) -> None:
    e5 = resolve_temperature(None, ["intfloat/multilingual-e5-small"], None)
    assert e5.value == 0.01 and "E5" in e5.source
    assert resolve_temperature(0.2, ["intfloat/multilingual-e5-small"], None).source == "evaluate.temperature"
    card = tmp_path / "card"
    card.mkdir()
    (card / "README.md").write_text('### MultipleNegativesRankingLoss\n```json\n{"scale": 25.0, "similarity_fct": '
                                    '"cos_sim"}\n```\n', encoding="utf-8")
    assert resolve_temperature(None, ["my/model"], card).value == pytest.approx(0.04)
    (card / "clir_calib_encoder.json").write_text(json.dumps({"temperature": 0.02}), encoding="utf-8")
    assert resolve_temperature(None, ["my/model"], card).value == 0.02  # saved with the model wins
    unknown = resolve_temperature(None, ["my/model"], tmp_path)
    assert unknown.value == FALLBACK_TEMPERATURE and unknown.source.startswith("default")


def _invoke(args: list[str]) -> Any:
    result = RUNNER.invoke(app, ["--device", "cpu", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def _fails(args: list[str]) -> str:
    result = RUNNER.invoke(app, ["--device", "cpu", *args])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output


#: the setting both paths are given (a small one); everything else is the default
SETTING = ["seed=3", "models.teacher.max_length=32", "models.student.max_length=32", "distill.max_pairs=24",
           "distill.batch_size=8", "distill.eval_every=2", "distill.save_every=2", "distill.val_pairs=16",
           "distill.lr=1e-3"]


def _metrics(eval_dir: Path, entry: str) -> dict[str, float]:
    metrics = json.loads((eval_dir / entry / "metrics.json").read_text())
    listwise = metrics["calibration"]["listwise"]["metrics"]
    return {"map": metrics["retrieval"]["AP"]["value"], "ece": listwise["ece_equal_width"]["value"],
            "ece_low": listwise["ece_equal_width"]["low"]}


def _after(calibration: Path) -> dict[tuple[str, ...], float]:
    """ECE-w before and after each calibrator on each set, keyed (task, calibrator, lang, split, when)."""
    rows = json.loads((calibration / "calibration.json").read_text())["rows"]
    return {(r["task"], r["calibrator"], r["lang"], r["split"], when): r[when]["ece_equal_width"]
            for r in rows for when in ("before", "after")}


@pytest.mark.slow  # about 4 minutes: a study and the same systems command by command, at the default settings
def test_run_and_the_single_commands_give_the_same_numbers(tmp_path: Path, fake_multi30k: Path,
                                                          tiny_model_dir: Path) -> None:
    tiny = str(tiny_model_dir)
    config = {"output_dir": str(tmp_path / "study"), "seeds": [3], "device": "cpu",
              "data": {"source": str(fake_multi30k), "splits": ["train", "val", "test_2016_flickr"]},
              "models": {"teacher": {"name": tiny}, "student": {"name": tiny}},
              "methods": [{"name": "none"}, {"name": "mse", "losses": [{"name": "mse"}]}]}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    _invoke(["run", str(path), "--no-progress", *[a for item in SETTING for a in ("--set", item)]])
    study = tmp_path / "study"
    study_eval = next(study.glob("evaluate/mse-*/eval"))
    study_calibration = next(study.glob("calibrate/mse-*/calibration"))

    sets = [a for item in SETTING for a in ("--set", item)]
    prepared, run, evaluated = tmp_path / "prepared", tmp_path / "run", tmp_path / "eval"
    _invoke(["prepare", "--source", str(fake_multi30k), "--splits", "train,val,test_2016_flickr", "--out",
             str(prepared)])
    _invoke(["distill", "--lang", "de", "--loss", "mse", "--teacher", tiny, "--student", tiny, "--data",
             str(prepared), "--out", str(run), "--no-progress", *sets])
    # no --teacher, no --temperature, no languages or splits: the run, the model and the data say them
    _invoke(["evaluate", "--prepared", str(prepared), "-m", str(run), "--name", "mse", "--out", str(evaluated),
             "--no-progress",
             "--set", f"evaluate.index_dir={tmp_path / 'index'}", *sets])
    _invoke(["calibrate", "--eval", str(evaluated), "--out", str(tmp_path / "calibration"), *sets])
    # the undistilled base model, named as the study names it, then the report of the two folders
    base = tmp_path / "eval-none"
    _invoke(["evaluate", "--prepared", str(prepared), "-m", tiny, "--teacher", tiny, "--name", "none", "--out",
             str(base), "--no-progress", "--set", f"evaluate.index_dir={tmp_path / 'index'}", *sets])
    _invoke(["calibrate", "--eval", str(base), *sets])
    _invoke(["calibrate", "--eval", str(evaluated), *sets])
    _invoke(["report", str(base), str(evaluated), "--out", str(tmp_path / "reports")])

    study_run = next(study.glob("distill/mse-*/model"))
    for key in ("selected_step", "val_accuracy_after", "select"):
        assert json.loads((run / "result.json").read_text())[key] == \
            json.loads((study_run / "result.json").read_text())[key], key
    entries = [e["path"] for e in json.loads((study_eval / "summary.json").read_text())["entries"]]
    assert entries == [e["path"] for e in json.loads((evaluated / "summary.json").read_text())["entries"]]
    assert len(entries) == 12  # 2 tasks x 3 languages x 2 splits: what the prepared data has
    for entry in entries:
        assert _metrics(evaluated, entry) == pytest.approx(_metrics(study_eval, entry)), entry
    raw = json.loads((evaluated / "summary.json").read_text())["raw_views"]
    assert raw["temperature"] == FALLBACK_TEMPERATURE and raw["temperature_source"].startswith("default")
    assert _after(tmp_path / "calibration") == pytest.approx(_after(study_calibration))
    # calibrate's raw ("before") view is evaluate's: the same listwise ECE for the same set
    before = _after(tmp_path / "calibration")[("translation", "temperature", "fr", "test_2016_flickr", "before")]
    assert before == pytest.approx(_metrics(evaluated, "translation/fr/test_2016_flickr")["ece"])
    # `report` on those folders writes the tables `run` wrote for the same systems
    ours = _report_tables(tmp_path / "reports" / "latest")
    theirs = _report_tables(next(study.glob("report/report-*")))
    for caption in ("MAP, nDCG@10", "differences, mean over seeds", "calibration · translation"):
        mine = {c: rows for c, rows in ours.items() if caption in c}
        assert mine and mine == {c: rows for c, rows in theirs.items() if caption in c}, caption
    assert (study / "report" / "latest").resolve() == next(study.glob("report/report-*")).resolve()
    _invoke(["report", "--compare", str(study / "report"), str(tmp_path / "reports"), "--out", str(tmp_path / "cmp")])
    compared = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert compared["rows"] and all(row[-1] in ("+0.0000", "-0.0000") for row in compared["rows"])


def _report_tables(folder: Path) -> dict[str, list[list[str]]]:
    tables = json.loads((folder / "tables.json").read_text())["tables"]
    return {t["caption"]: t["rows"] for t in tables}


def test_a_run_knows_its_teacher(tmp_path: Path, prepared_dir: Path, tiny_model_dir: Path,
                                 tiny_model_dir_wide: Path) -> None:
    run = tmp_path / "run"
    _invoke(["distill", "--lang", "de", "--loss", "mse", "--teacher", str(tiny_model_dir_wide), "--student",
             str(tiny_model_dir), "--data", str(prepared_dir), "--out", str(run), "--no-progress",
             "--set", "distill.projection=true", *[a for item in SETTING for a in ("--set", item)]])
    out = tmp_path / "eval"
    index = ["--set", f"evaluate.index_dir={tmp_path / 'index'}", "--bootstrap", "20", "--no-progress"]
    _invoke(["evaluate", "--prepared", str(prepared_dir), "-m", str(run), "--langs", "de", "--splits",
             "test_2016_flickr", "--tasks", "translation", "--out", str(out), *index])
    queries = json.loads((out / "summary.json").read_text())["system"]["queries"]
    assert queries["encoder"] == str(tiny_model_dir_wide)  # the run's own 48-wide teacher, not e5
    refused = _fails(["evaluate", "--prepared", str(prepared_dir), "-m", str(run), "--teacher", str(tiny_model_dir),
                      "--out", str(tmp_path / "other"), *index])
    assert str(tiny_model_dir_wide) in refused and str(tiny_model_dir) in refused and "drop --teacher" in refused
    # a plain model (no run) of another width than the teacher: the error names the fix
    mismatch = _fails(["evaluate", "--prepared", str(prepared_dir), "-m", str(tiny_model_dir), "--teacher",
                       str(tiny_model_dir_wide), "--langs", "de", "--out", str(tmp_path / "plain"), *index])
    assert "48-wide" in mismatch and "32-wide" in mismatch and "distill.projection=true" in mismatch
    from clir_calib.alignment import align_with_models

    plan = align_with_models(str(run), None, "a dog runs", "ein hund rennt", device="cpu")
    assert plan.transport_cost >= 0  # align reads the same teacher (a 32-wide one would not fit the projection)


def test_calibrate_targets_follow_the_folder_and_refuse_the_fit_set(tmp_path: Path) -> None:
    root = make_eval_dir(tmp_path / "eval", shifts={"de": 0.8, "fr": 0.8})  # de and fr only
    out = _invoke(["calibrate", "--eval", str(root), "--calibrators", "identity,temperature", "--no-diagrams",
                   "--out", str(tmp_path / "c")])
    result = json.loads((tmp_path / "c" / "calibration.json").read_text())
    assert result["targets"] == {"langs": ["de", "fr"], "splits": ["test_2016_flickr"]}, out.output
    refused = _fails(["calibrate", "--eval", str(root), "--calibrators", "temperature", "--splits", "val",
                      "--no-diagrams", "--out", str(tmp_path / "d")])
    assert "score_fit_split" in refused and not (tmp_path / "d").exists()
    _invoke(["calibrate", "--eval", str(root), "--calibrators", "temperature", "--splits", "val", "--no-diagrams",
             "--set", "calibrate.score_fit_split=true", "--out", str(tmp_path / "e")])


def test_calibrators_fitted_on_few_queries_are_flagged(tmp_path: Path) -> None:
    from clir_calib.transfer.zero_shot import calibrate_transfer

    root = make_eval_dir(tmp_path / "eval")
    thin = calibrate_transfer(root, ["temperature"], min_fit_queries=151)  # make_eval_dir has 150 queries
    assert thin.warnings and "150 labelled queries" in thin.warnings[0]
    assert not calibrate_transfer(root, ["temperature"]).warnings
    result = RUNNER.invoke(app, ["calibrate", "--eval", str(root), "--calibrators", "temperature", "--no-diagrams",
                                 "--set", "calibrate.min_fit_queries=200", "--out", str(tmp_path / "c")])
    assert result.exit_code == 0 and "Warning" in result.output and "thin evidence" in result.output
    assert json.loads((tmp_path / "c" / "calibration.json").read_text())["warnings"]


def test_compare_shows_the_difference_and_marks_only_a_rejected_test() -> None:
    from clir_calib.evaluation.compare import Cell
    from clir_calib.evaluation.compare_output import format_difference
    from clir_calib.evaluation.differences import calibration_differences, mean_differences

    tiny = Cell(0.0204, None, None, p_value=0.01, significant=True, difference=-0.0003, diff_low=-0.0004,
                diff_high=-0.0001)
    assert format_difference(tiny) == "-3.0e-04† [-4.0e-04, -1.0e-04]"  # never "+0.000†"
    assert "†" not in format_difference(Cell(0.5, None, None, p_value=0.2, difference=0.01, diff_low=-0.01,
                                              diff_high=0.03))
    rng = np.random.default_rng(0)
    a, b = rng.random(200), rng.random(200)
    diff = mean_differences({"map": a}, {"map": b}, ("map",), 200, seed=1)["map"]
    assert diff.value == pytest.approx(a.mean() - b.mean()) and diff.low < diff.value < diff.high
    conf = rng.random((100, 5))
    hits = (rng.random((100, 5)) < conf).astype(np.int8)
    same = calibration_differences((conf, hits), (conf, hits), 10, 50, seed=0)
    assert all(d.value == 0 and d.low == 0 and d.high == 0 for d in same.values())


def test_the_cli_answers_without_importing_torch() -> None:
    probe = ("import sys, clir_calib.cli; heavy = [m for m in ('torch', 'transformers', 'datasets', 'pandas') "
             "if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
    typo = subprocess.run([sys.executable, "-m", "clir_calib", "evalute"], capture_output=True, text=True, timeout=120)
    assert typo.returncode == 2 and "evalute" in typo.stderr
