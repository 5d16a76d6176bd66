"""`clir-calib run` with the NMT baseline: its prepare step trains on the study's bitext, no special case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clir_calib.config import load_config

pytest.importorskip("clir_calib_nmt", reason="plugins/clir-calib-nmt is not installed (run ./setup.sh)")


def test_study_trains_and_scores_the_nmt_baseline(tmp_path: Path, fake_multi30k: Path, tiny_model_dir: Path):
    """The zero-shot row (de model translating fr through its multilingual encoder) and the supervised row
    (a fr model on fr bitext, marked ‡) share the trained de model, keyed by its inputs."""
    from clir_calib.pipeline.study import run_study

    model = str(tiny_model_dir)
    train = ("train_encoder: '" + model + "', train_max_pairs: 32, train_epochs: 1, train_encoder_layers: 0, "
             "train_encoder_languages: [de, fr], num_beams: 1, progress: false")
    cfg = load_config(None, [
        f"output_dir={tmp_path / 'study'}", "device=cpu", f"data.source={fake_multi30k}",
        "data.langs=[de, fr]", "data.splits=[train, val, test_2016_flickr]",
        f"models.teacher.name={model}", f"models.student.name={model}",
        f"methods=[{{name: none}}, {{name: nmt, baseline: nmt, params: {{{train}}}}}, "
        f"{{name: nmt-supervised, baseline: nmt, params: {{{train}, train_langs: [de, fr]}}}}]",
        "evaluate.langs=[de, fr]", "evaluate.tasks=[translation]", "evaluate.splits=[val, test_2016_flickr]",
        "evaluate.bootstrap=20", "evaluate.permutations=20", "evaluate.top_k=10",
        "calibrate.calibrators=[identity, temperature]", "calibrate.target_langs=[de, fr]",
    ])
    result = run_study(cfg)
    zero_shot = next(m for m in result.methods if m.method.name == "nmt")
    supervised = next(m for m in result.methods if m.method.name == "nmt-supervised")
    de_model = Path(zero_shot.baseline_params["models"]["de"])
    assert (de_model / "result.json").is_file() and de_model.parent.name == "baseline-cache"
    assert supervised.baseline_params["models"]["de"] == str(de_model)  # trained once, shared
    assert "fr" not in zero_shot.baseline_params["models"] and "fr" in supervised.baseline_params["models"]
    assert zero_shot.marker == "" and supervised.marker == " ‡"
    assert zero_shot.eval_dir is not None
    fr_metrics = json.loads((zero_shot.eval_dir / "translation/fr/test_2016_flickr/metrics.json").read_text())
    assert fr_metrics["baseline"]["zero_shot"] is True and fr_metrics["baseline"]["trained_on"] == "de"
    assert fr_metrics["baseline"]["references"] > 0 and fr_metrics["baseline"]["bleu"] >= 0
    report = result.report_md.read_text(encoding="utf-8")
    assert "| nmt |" in report and "| nmt-supervised ‡ |" in report
    assert "Translate-test: translation quality" in report and "zero-shot (from de)" in report
    assert "target-language ‡" in report
    again = run_study(cfg)  # the trained models and every stage are reused
    assert all(stage.reused for stage in again.stages)
