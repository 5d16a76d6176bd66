"""score-kl: the in-batch score-distribution distillation loss, alone, in sums and in a training run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from clir_calib.config import LossSpec
from clir_calib.losses.base import EncodedBatch
from clir_calib.losses.combined import CombinedAlignmentLoss
from clir_calib.losses.score_kl import ScoreKLAlignmentLoss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def batch(pooled: torch.Tensor, queries: torch.Tensor | None = None) -> EncodedBatch:
    b, d = pooled.shape
    return EncodedBatch(torch.zeros(b, 3, d), torch.ones(b, 3, dtype=torch.long), pooled, query_pooled=queries)


def test_zero_when_the_student_reproduces_the_teachers_similarity_matrix() -> None:
    g = torch.Generator().manual_seed(0)
    queries, captions = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    loss = ScoreKLAlignmentLoss(temperature=0.05)
    # same directions, other lengths: the cosine matrix is the teacher's exactly
    value = loss(batch(captions * 3.0), batch(captions, queries))
    assert float(value) == pytest.approx(0.0, abs=1e-6)


def test_matches_the_kl_written_out_in_numpy() -> None:
    g = torch.Generator().manual_seed(1)
    q, t, s = (torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(3))
    temperature = 0.1
    value = float(ScoreKLAlignmentLoss(temperature=temperature)(batch(s), batch(t, q)))

    def unit(x: torch.Tensor) -> np.ndarray:
        a = x.numpy()
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p = softmax(unit(q) @ unit(t).T / temperature)
    r = softmax(unit(q) @ unit(s).T / temperature)
    expected = float(np.mean(np.sum(p * (np.log(p) - np.log(r)), axis=1)))
    assert value == pytest.approx(expected, rel=1e-9)
    assert value > 0


def test_gradients_reach_only_the_student() -> None:
    g = torch.Generator().manual_seed(2)
    student = torch.randn(4, 6, generator=g, requires_grad=True)
    teacher = torch.randn(4, 6, generator=g, requires_grad=True)
    queries = torch.randn(4, 6, generator=g, requires_grad=True)
    ScoreKLAlignmentLoss(temperature=0.05)(batch(student), batch(teacher, queries)).backward()
    assert student.grad is not None and float(student.grad.abs().sum()) > 0
    assert teacher.grad is None and queries.grad is None


def test_temperature_defaults_to_the_bound_listwise_temperature_and_a_set_one_wins() -> None:
    default = ScoreKLAlignmentLoss()
    default.bind_listwise_temperature(0.01)
    assert default.get_config_dict()["temperature"] == 0.01
    chosen = ScoreKLAlignmentLoss(temperature=0.2)
    chosen.bind_listwise_temperature(0.01)
    assert chosen.get_config_dict()["temperature"] == 0.2
    with pytest.raises(ValueError, match="temperature"):
        ScoreKLAlignmentLoss()(batch(torch.ones(2, 3)), batch(torch.ones(2, 3), torch.ones(2, 3)))


def test_without_teacher_queries_it_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="query_pooled"):
        ScoreKLAlignmentLoss(temperature=0.1)(batch(torch.ones(2, 3)), batch(torch.ones(2, 3)))


def test_in_a_sum_with_ot_the_parts_add_up_and_the_sum_asks_for_teacher_queries() -> None:
    combined = CombinedAlignmentLoss([LossSpec("ot"), LossSpec("score-kl", weight=0.5, params={"temperature": 0.1})])
    assert combined.needs_teacher_queries
    assert not CombinedAlignmentLoss([LossSpec("ot")]).needs_teacher_queries
    g = torch.Generator().manual_seed(3)
    student = batch(torch.randn(3, 4, generator=g))
    student.token_states = torch.randn(3, 3, 4, generator=g)
    teacher = batch(torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g))
    teacher.token_states = torch.randn(3, 3, 4, generator=g)
    total = float(combined(student, teacher))
    parts = combined.last_parts
    assert total == pytest.approx(parts["ot"] + 0.5 * parts["score-kl"], rel=1e-6)


def test_a_tiny_run_trains_with_ot_plus_score_kl_and_records_the_temperature(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from clir_calib.distill import distill
    from tests.test_distill import tiny_config

    cfg = tiny_config(prepared_dir, tiny_model_dir, tiny_model_dir, "distill.select=last")
    cfg.distill.losses = [LossSpec("ot"), LossSpec("score-kl")]
    result = distill(cfg, tmp_path / "run")
    described = {term["name"]: term["params"] for term in result.losses}
    assert described["score-kl"]["temperature"] == pytest.approx(0.05)  # a tiny BERT states none: the fallback
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    trained = [r for r in log if "loss_score-kl" in r]
    assert trained and all(np.isfinite(r["loss_score-kl"]) for r in trained)
