"""`clir-calib run` with the NMT baseline: its prepare step trains on the study's bitext, no special case."""

from __future__ import annotations

from pathlib import Path

import pytest

from clir_calib.config import load_config

pytest.importorskip("clir_calib_nmt", reason="plugins/clir-calib-nmt is not installed (run ./setup.sh)")


def test_study_trains_and_scores_the_nmt_baseline(tmp_path: Path, fake_multi30k: Path, tiny_model_dir: Path):
    from clir_calib.pipeline.study import run_study

    model = str(tiny_model_dir)
    nmt = (
        "{name: nmt, baseline: nmt, params: {train_encoder: '" + model + "', train_max_pairs: 32, "
        "train_epochs: 1, train_encoder_layers: 0, num_beams: 1, progress: false}}"
    )
    cfg = load_config(None, [
        f"output_dir={tmp_path / 'study'}", "device=cpu", f"data.source={fake_multi30k}",
        "data.langs=[de, fr]", "data.splits=[train, val, test_2016_flickr]",
        f"models.teacher.name={model}", f"models.student.name={model}",
        f"methods=[{{name: none}}, {nmt}]",
        "evaluate.langs=[de]", "evaluate.tasks=[translation]", "evaluate.splits=[val, test_2016_flickr]",
        "evaluate.bootstrap=20", "evaluate.permutations=20", "evaluate.top_k=10",
        "calibrate.calibrators=[identity, platt]", "calibrate.target_langs=[de]",
    ])
    result = run_study(cfg)
    nmt_out = next(m for m in result.methods if m.method.name == "nmt")
    trained = Path(nmt_out.baseline_params["models"]["de"])
    assert (trained / "result.json").is_file() and trained.parent.parent.name == "baseline"
    assert nmt_out.eval_dir is not None and (nmt_out.eval_dir / "translation/de/test_2016_flickr/run.trec").is_file()
    assert "| nmt |" in result.report_md.read_text(encoding="utf-8")
    again = run_study(cfg)  # the trained model and every stage are reused
    assert all(stage.reused for stage in again.stages)
