"""sentence-transformers integration: the OT loss in SentenceTransformerTrainer, equal to clir-calib's own ``ot``,
and the calibration evaluator in its conventions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENGLISH = ["A man is running in the park.", "A woman is sitting on the beach.", "A brown dog is eating.",
           "A child is reading a book near the water."]
GERMAN = ["Ein Mann läuft im Park.", "Eine Frau sitzt am Strand.", "Ein brauner Hund isst.",
          "Ein Kind liest ein Buch am Wasser."]


def _models(folder: Path):  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu"), SentenceTransformer(str(folder), device="cpu")


@pytest.mark.parametrize("params", [{}, {"drop_special_tokens": True, "epsilon": 0.1}])
def test_the_loss_equals_clir_calibs_ot_on_the_same_batch(tiny_model_dir: Path, params: dict) -> None:
    from clir_calib.config import EncoderConfig
    from clir_calib.integrations.st_loss import OTDistillationLoss
    from clir_calib.losses.ot import OTAlignmentLoss
    from clir_calib.models.encoder import Encoder

    student, teacher = _models(tiny_model_dir)
    loss = OTDistillationLoss(student, teacher, **params)
    with torch.no_grad():
        mine = float(loss([student.tokenize(ENGLISH), student.tokenize(GERMAN)]))
        ours = Encoder.load(EncoderConfig(name=str(tiny_model_dir), max_length=student.max_seq_length), device="cpu")
        ours.model.eval()
        expected = float(OTAlignmentLoss(**params)(ours.encode_batch(GERMAN, "passage"),
                                                    ours.encode_batch(ENGLISH, "passage")))
    assert mine == pytest.approx(expected, abs=1e-6)
    assert mine > 0


def test_a_trainer_run_with_the_ot_loss_and_the_calibration_evaluator(tiny_model_dir: Path, tmp_path: Path) -> None:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    from clir_calib.integrations.st_evaluator import CalibrationEvaluator
    from clir_calib.integrations.st_loss import OTDistillationLoss

    student, teacher = _models(tiny_model_dir)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    frozen = {k: v.clone() for k, v in teacher.state_dict().items()}
    bitext = Dataset.from_dict({"english": ENGLISH * 2, "german": GERMAN * 2})
    queries = {f"q{i}": text for i, text in enumerate(ENGLISH)}
    corpus = {f"d{i}": text for i, text in enumerate(GERMAN)}
    evaluator = CalibrationEvaluator(queries, corpus, {f"q{i}": {f"d{i}"} for i in range(4)}, top_k=4, depth=4,
                                     name="de")
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path / "st"), max_steps=2,
                                               per_device_train_batch_size=4, learning_rate=1e-3, eval_strategy="steps",
                                               eval_steps=1, logging_steps=1, save_strategy="no", report_to=[],
                                               use_cpu=True)
    trainer = SentenceTransformerTrainer(model=student, args=args, train_dataset=bitext,
                                         loss=OTDistillationLoss(student, teacher), evaluator=evaluator)
    trainer.train()
    moved = [k for k, v in student.state_dict().items() if not torch.equal(v, before[k])]
    assert moved  # the student trained
    assert all(torch.equal(v, frozen[k]) for k, v in teacher.state_dict().items())  # the teacher did not
    logged = [r for r in trainer.state.log_history if "eval_de_listwise_ece_equal_width" in r]
    assert len(logged) == 2
    results = evaluator(student)
    assert evaluator.primary_metric == "de_listwise_ece_equal_width" and not evaluator.greater_is_better  # s-t prefixes it
    assert set(results) >= {f"de_{v}_{m}" for v in ("listwise", "pointwise") for m in ("ece_equal_width", "smece",
                                                                                         "brier", "cb_ece")}
    assert all(0.0 <= value <= 1.0 for value in results.values() if np.isfinite(value))


def test_the_evaluator_matches_clir_calibs_raw_views_on_the_same_scores(tiny_model_dir: Path) -> None:
    from clir_calib.evaluation.views import raw_views
    from clir_calib.integrations.st_evaluator import CalibrationEvaluator
    from clir_calib.metrics.calibration import calibration_report

    student, _ = _models(tiny_model_dir)
    evaluator = CalibrationEvaluator({f"q{i}": t for i, t in enumerate(ENGLISH)},
                                     {f"d{i}": t for i, t in enumerate(GERMAN)},
                                     {f"q{i}": {f"d{i}"} for i in range(4)}, temperature=0.05, top_k=4, depth=4)
    run = evaluator.scored_run(student)
    results = evaluator(student)
    view = raw_views(run, 0.05, 1.0, 0.0, 4)["listwise"]
    expected = calibration_report(view.confidences.reshape(-1), view.correct.reshape(-1), bins=15).ece_equal_width
    assert results["listwise_ece_equal_width"] == pytest.approx(expected, abs=1e-12)
