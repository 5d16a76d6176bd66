"""The study with every kind of method the report compares: a score loss, a sum with OT, training-free maps,
and the listwise ATC adapter; nothing in the pipeline names them, and each reaches every comparison."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from clir_calib.cli import app
from tests.test_study import _study_config


def test_new_losses_maps_and_atc_reach_every_comparison(tmp_path: Path, fake_multi30k: Path,
                                                        tiny_model_dir: Path) -> None:
    config = _study_config(tmp_path, fake_multi30k, tiny_model_dir)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["methods"] = [
        {"name": "none"},
        {"name": "mse", "losses": [{"name": "mse"}]},
        {"name": "score-kl", "losses": [{"name": "score-kl"}]},
        {"name": "ot+score-kl", "losses": [{"name": "ot", "params": {"epsilon": 0.1}}, {"name": "score-kl"}]},
        {"name": "mean-shift", "baseline": "mean-shift", "params": {"sentences": 16}},
        {"name": "gaussian-ot", "baseline": "gaussian-ot", "params": {"sentences": 24}},
    ]
    data["calibrate"].update({"calibrators": ["temperature", "platt"], "adapters": ["none", "atc"],
                              "bounds": ["oracle"], "adapt_tasks": ["translation"]})
    data["report"] = {"pairs": [["score-kl", "mse"], ["mean-shift", "mse"]]}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    folder = next((tmp_path / "study" / "report").glob("report-*"))
    tables = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
    systems = ["none", "mse", "score-kl", "ot+score-kl", "mean-shift", "gaussian-ot"]

    pairs = {(d["a"], d["b"]) for d in tables["differences"]}
    assert {(s, "none") for s in systems[1:]} | {("score-kl", "mse"), ("mean-shift", "mse")} <= pairs
    metrics = {(d["group"], d["metric"]) for d in tables["differences"] if (d["a"], d["b"]) == ("score-kl", "mse")}
    assert {("retrieval", "AP"), ("pointwise", "cb_ece"), ("listwise", "ece_equal_width after temperature"),
            ("pointwise", "ece_equal_width after platt")} <= metrics

    diagnosed = {(r["system"], r["lang"]) for r in tables["score_diagnostics"]}
    assert diagnosed == {(s, lang) for s in systems for lang in ("de", "fr", "cs")}
    for record in tables["score_diagnostics"]:
        assert 0.0 <= record["mean_top1_confidence"] <= 1.0 and record["cb_ece_raw"] is not None
    assert (folder / "score_diagnostics.png").is_file()
    page = (folder / "report.md").read_text(encoding="utf-8")
    assert "why it stopped" in page and "finished the configured epochs" in page and "val checks after it" in page

    atc = [r for r in tables["adaptation"] if r["method"] == "atc"]
    assert {r["calibrator"] for r in atc} == {"temperature"}  # listwise only
    assert {(r["system"], r["lang"]) for r in atc} >= {(s, lang) for s in systems for lang in ("fr", "cs")}

    evaluated = {p.name.rsplit("-", 1)[0]: p for p in (tmp_path / "study" / "evaluate").iterdir()}
    entry = evaluated["gaussian-ot"] / "eval" / "translation" / "cs" / "test_2016_flickr" / "metrics.json"
    stats = json.loads(entry.read_text(encoding="utf-8"))
    assert stats["baseline"]["fitted_on"] == {"lang": "cs", "xx_lines": [0, 24], "en_lines": [24, 48]}
    assert "score_diagnostics" in stats and stats["calibration"]["pointwise"]["metrics"]["cb_ece"]["value"] >= 0
