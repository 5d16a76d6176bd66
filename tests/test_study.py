"""`clir-calib run` end to end on the fake Multi30k with tiny random models."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clir_calib.cli import app


def _study_config(tmp_path: Path, fake_multi30k: Path, model: Path) -> Path:
    config = {
        "name": "tiny-study",
        "seed": 3,
        "seeds": [3],
        "device": "cpu",
        "output_dir": str(tmp_path / "study"),
        "data": {"source": str(fake_multi30k), "langs": ["de", "fr", "cs"],
                 "splits": ["train", "val", "test_2016_flickr"]},
        "models": {"teacher": {"name": str(model), "max_length": 32},
                   "student": {"name": str(model), "max_length": 32}},
        "distill": {"lang": "de", "max_pairs": 24, "batch_size": 8, "eval_every": 2, "save_every": 2,
                    "val_pairs": 16, "lr": 1e-3},
        "methods": [
            {"name": "none"},
            {"name": "mse", "losses": [{"name": "mse"}]},
            {"name": "ot", "losses": [{"name": "ot", "params": {"epsilon": 0.1}}]},
        ],
        "evaluate": {"langs": ["de", "fr", "cs"], "splits": ["val", "test_2016_flickr"], "top_k": 20,
                     "bootstrap": 30, "permutations": 30},
        "calibrate": {"calibrators": ["identity", "temperature", "platt"], "fit_lang": "de", "fit_split": "val",
                      "target_langs": ["de", "fr", "cs"], "target_splits": ["test_2016_flickr"]},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _compile_if_engine(tex: Path) -> None:
    """pdflatex the study's own LaTeX where an engine is installed (CI installs one); else the structure tests hold."""
    import shutil
    import subprocess

    engine = shutil.which("pdflatex")
    if engine is None:
        assert not os.environ.get("CLIR_CALIB_REQUIRE_LATEX"), "CLIR_CALIB_REQUIRE_LATEX is set but pdflatex is missing"
        return
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tex.parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]


def test_run_study_end_to_end_then_reuse(tmp_path, fake_multi30k, tiny_model_dir):
    config = _study_config(tmp_path, fake_multi30k, tiny_model_dir)
    runner = CliRunner()
    first = runner.invoke(app, ["run", str(config), "--no-progress"])
    assert first.exit_code == 0, first.output
    study = tmp_path / "study"
    report = next((study / "report").glob("report-*/report.html"))
    page = report.read_text(encoding="utf-8")
    for text in ("Headline", "Calibration transfer", "Reliability diagrams", "Training curves",
                 "Where the OT loss plans mass", "Reproducibility", "temperature", "platt"):
        assert text in page, text
    assert page.count("data:image/png;base64,") >= 9 + 1 + 2  # 3x3 grid, curves, alignments (base, ot)
    assert "OT settings: balanced and unbalanced" not in page  # one OT setting: no grid
    markdown = (report.parent / "report.md").read_text(encoding="utf-8")
    assert "| none |" in markdown and "| ot |" in markdown and "| mse |" in markdown
    assert (report.parent / "comparison.csv").is_file()
    for tex in ("report.tex", "comparison.tex", "comparison_compact.tex"):
        assert (report.parent / tex).read_text(encoding="utf-8").startswith("\\documentclass"), tex
    _compile_if_engine(report.parent / "report.tex")
    assert (study / "config.yaml").is_file()
    assert "Stages" in first.output and "calibration · translation" in first.output

    started = time.perf_counter()
    second = runner.invoke(app, ["run", str(config), "--no-progress"])
    assert second.exit_code == 0, second.output
    assert time.perf_counter() - started < 30
    reused = [line for line in second.output.splitlines() if "│ yes" in line]
    assert len(reused) == 10  # prepare, 2 distill, 3 evaluate, 3 calibrate, report
    assert not [line for line in second.output.splitlines() if "│ no " in line]


def test_interrupted_distillation_continues(tmp_path, fake_multi30k, tiny_model_dir, monkeypatch):
    from clir_calib import distill as distill_module
    from clir_calib.config import load_config
    from clir_calib.pipeline import study

    config = _study_config(tmp_path, fake_multi30k, tiny_model_dir)
    cfg = load_config(config, ["methods=[{name: ot, losses: [ot]}]", "calibrate.calibrators=[identity]"])
    real = distill_module.distill

    class Killed(Exception):
        pass

    def killed_after_two_steps(*args, **kwargs):
        def on_step(step: int) -> None:
            if step == 2:
                raise Killed

        return real(*args, on_step=on_step, **kwargs)

    monkeypatch.setattr(distill_module, "distill", killed_after_two_steps)
    with pytest.raises(Killed):
        study.run_study(cfg)
    model_dirs = list((tmp_path / "study" / "distill").glob("ot-*/model"))
    assert len(model_dirs) == 1 and list((model_dirs[0] / "checkpoints").iterdir())
    monkeypatch.setattr(distill_module, "distill", real)
    result = study.run_study(cfg)
    info = json.loads((model_dirs[0] / "result.json").read_text(encoding="utf-8"))
    assert info["resumed_from_step"] == 2
    assert result.methods[0].model_dir == model_dirs[0]


def test_two_seeds_and_two_sizes_give_mean_sd_tables_per_seed_values_and_curves(tmp_path, fake_multi30k,
                                                                                   tiny_model_dir):
    config = _study_config(tmp_path, fake_multi30k, tiny_model_dir)
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(config), "--no-progress", "--seeds", "5,6",
                                 "--set", "distill.max_pairs=[16,24]", "--set", "distill.select=best",
                                 "--set", "calibrate.diagrams=false", "--set", "evaluate.diagrams=equal_width",
                                 "--set", "calibrate.adapters=[none,quantile,standardize,mixture]",
                                 "--set", "calibrate.bounds=[oracle,fewshot]", "--set", "calibrate.fewshot_sizes=[4]",
                                 "--set", "calibrate.fewshot_draws=3", "--set", "calibrate.adapt_tasks=[translation]"])
    assert result.exit_code == 0, result.output
    study = tmp_path / "study"
    labels = sorted(p.name.rsplit("-", 1)[0] for p in (study / "distill").iterdir())
    assert labels == sorted(f"{m}-n{n}-s{s}" for m in ("mse", "ot") for n in (16, 24) for s in (5, 6))
    assert len(list((study / "evaluate").iterdir())) == 1 + 8  # none once, every distilled run once
    folder = next((study / "report").glob("report-*"))
    tables = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
    headline = next(t for t in tables["tables"] if t["caption"].startswith("translation · test_2016_flickr: MAP"))
    ot_row = next(r for r in headline["rows"] if r[0] == "ot")
    assert ot_row[1] == "2" and all(" ± " in cell for cell in ot_row[2:] if cell != "–")
    none_row = next(r for r in headline["rows"] if r[0] == "none")
    assert none_row[1] == "1" and " ± " not in none_row[2]
    seeds = {(r["system"], r["pairs"], r["seed"]) for r in tables["per_seed"]}
    assert {("ot", 24, 5), ("ot", 24, 6), ("mse", 16, 5), ("none", None, None)} <= seeds
    # the headline mean is the mean of the per-seed values in tables.json
    values = [r["value"] for r in tables["per_seed"] if (r["system"], r["pairs"], r["task"], r["lang"], r["split"],
              r["group"], r["metric"]) == ("ot", 24, "translation", "de", "test_2016_flickr", "retrieval", "AP")]
    assert len(values) == 2 and ot_row[2].startswith(f"{sum(values) / 2:.3f} ± ")
    diffs = [d for d in tables["differences"] if (d["a"], d["b"]) == ("ot", "mse")]
    assert diffs and all(d["rounds"] > 0 and d["low"] <= d["high"] for d in diffs if d["low"] is not None)
    adapted = [t for t in tables["tables"] if t["caption"].startswith("label-free transfer · translation")]
    assert adapted and {"none", "quantile", "standardize", "oracle", "fewshot-4"} <= set(adapted[0]["headers"])
    assert {r["method"] for r in tables["adaptation"]} >= {"none", "quantile", "mixture", "oracle", "fewshot-4"}
    for name in ("answer.png", "data_size_curves.png", "risk_coverage.png", "gap_closed.png", "report.html"):
        assert (folder / name).is_file(), name
    page = (folder / "report.md").read_text(encoding="utf-8")
    assert "listwise view" in page and "pointwise view" in page and "Sensitivity of ECE" in page
    assert "step kept" in page


def test_methods_may_bring_their_own_seeds_and_query_encoder(tmp_path, fake_multi30k, tiny_model_dir):
    from clir_calib.config import load_config
    from clir_calib.errors import ConfigError
    from clir_calib.pipeline import study

    config = _study_config(tmp_path, fake_multi30k, tiny_model_dir)
    cfg = load_config(config, ["seeds=[1,2]", "models.teacher.name=english-teacher",
                               "methods=[{name: none, queries: student}, {name: ot, losses: [ot]}, "
                               "{name: ot-tau, losses: [{name: ot, params: {tau: 1.0}}], seeds: [1]}]"])
    runs = study.study_runs(cfg)
    assert [r.label for r in runs] == ["none", "ot-n24-s1", "ot-n24-s2", "ot-tau-n24-s1"]
    from clir_calib.pipeline.study_stages import evaluate_config

    none = evaluate_config(cfg, runs[0], None)
    assert none.models.teacher.name == str(tiny_model_dir)  # e5 (the student) on both sides
    assert evaluate_config(cfg, runs[1], None).models.teacher.name == "english-teacher"
    with pytest.raises(ConfigError, match="queries must be one of teacher, student"):
        study.check_methods(load_config(config, ["methods=[{name: none, queries: both}]"]))


def test_tau_grid_and_one_heatmap_per_ot_setting(tmp_path, fake_multi30k, tiny_model_dir):
    config = _study_config(tmp_path, fake_multi30k, tiny_model_dir)
    methods = ("methods=[{name: none, queries: student}, {name: mse, losses: [mse]}, "
               "{name: ot, losses: [{name: ot, params: {epsilon: 0.1}}]}, "
               "{name: ot-tau1, losses: [{name: ot, params: {epsilon: 0.1, tau: 1.0, drop_special_tokens: true}}]}]")
    result = CliRunner().invoke(app, ["run", str(config), "--no-progress", "--set", methods,
                                      "--set", "calibrate.calibrators=[identity,temperature]"])
    assert result.exit_code == 0, result.output
    folder = next((tmp_path / "study" / "report").glob("report-*"))
    tables = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
    grid = next(t for t in tables["tables"] if "OT settings" in t["caption"])
    rows = {r[0]: r for r in grid["rows"]}
    assert set(rows) == {"ot", "ot-tau1"} and rows["ot"][1] == "balanced" and rows["ot-tau1"][1] == "1"
    assert all(cell != "–" for cell in rows["ot-tau1"][3:])  # val accuracy, MAP and ECE raw/temperature
    pictures = sorted(p.name for p in folder.glob("alignment_*.png"))
    assert pictures == ["alignment_base_student.png", "alignment_ot-tau1.png", "alignment_ot.png"]
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "`none` encodes the English queries with the student model too" in markdown
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines() if line.startswith("| ")]
    moved = {row[0]: float(row[2]) for row in cells if len(row) == 5 and (row[1] == "balanced" or row[1].startswith("tau="))}
    assert moved["ot"] == pytest.approx(1.0, abs=1e-3) and moved["ot-tau1"] < 1.0
