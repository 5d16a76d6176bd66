"""The `ot` alignment loss and the weighted combination of losses from the config."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
import torch

from clir_calib.config import LossSpec
from clir_calib.errors import ConfigError, DataError, NumericalError, UnknownPluginError
from clir_calib.losses.base import EncodedBatch
from clir_calib.losses.combined import CombinedAlignmentLoss
from clir_calib.losses.ot import OTAlignmentLoss, token_cost
from clir_calib.plugins import ALIGNMENT_LOSSES

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see conftest.py


def encoded(lengths: list[int], width: int = 16, seed: int = 0, grad: bool = False,
            dtype: torch.dtype = torch.float32) -> EncodedBatch:
    """A padded batch: random token states, mask from ``lengths``, first/last real token special."""
    generator = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    states = torch.randn(len(lengths), longest, width, generator=generator, dtype=dtype)
    mask = torch.zeros(len(lengths), longest, dtype=torch.long)
    special = torch.zeros_like(mask)
    for k, length in enumerate(lengths):
        mask[k, :length] = 1
        special[k, 0] = 1
        special[k, length - 1] = 1
    states.requires_grad_(grad)
    pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return EncodedBatch(states, mask, pooled, special)


def test_ot_and_mse_are_registered() -> None:
    assert ALIGNMENT_LOSSES.get("ot") is OTAlignmentLoss
    with pytest.raises(UnknownPluginError, match="available: .*mse.*ot"):
        ALIGNMENT_LOSSES.get("wasserstein")


def test_loss_is_the_mean_transport_cost_of_pots_plans() -> None:
    student = encoded([5, 3, 7], seed=1, dtype=torch.float64)
    teacher = encoded([6, 6, 2], seed=2, dtype=torch.float64)
    loss_fn = OTAlignmentLoss(epsilon=0.1, max_iter=5000, tol=1e-12)
    loss = loss_fn(student, teacher)
    expected = []
    for k, (n, m) in enumerate([(5, 6), (3, 6), (7, 2)]):
        cost = token_cost(student.token_states[k : k + 1, :n], teacher.token_states[k : k + 1, :m], "cosine")[0]
        plan = ot.sinkhorn(np.full(n, 1 / n), np.full(m, 1 / m), cost.numpy(), 0.1, stopThr=1e-13,
                           numItermax=100_000)
        expected.append(float((plan * cost.numpy()).sum()))
    assert float(loss) == pytest.approx(float(np.mean(expected)), abs=1e-8)
    assert loss_fn.last_info["sinkhorn_converged"] is True


def test_identical_token_sets_cost_at_most_the_entropic_term() -> None:
    tokens = encoded([8, 8], seed=3)
    values = {}
    for epsilon in (0.1, 0.02):
        loss = float(OTAlignmentLoss(epsilon=epsilon, max_iter=2000, tol=1e-7)(tokens, tokens))
        assert 0.0 <= loss <= epsilon * math.log(8) + 1e-6
        values[epsilon] = loss
    assert values[0.02] < values[0.1]
    unrelated = float(OTAlignmentLoss(epsilon=0.02, max_iter=2000)(tokens, encoded([8, 8], seed=4)))
    assert unrelated > 10 * values[0.02]


def test_gradients_reach_the_student_and_not_the_teacher() -> None:
    student = encoded([4, 6], seed=5, grad=True)
    teacher = encoded([5, 3], seed=6, grad=True)
    for differentiable in (False, True):
        student.token_states.grad = None
        teacher.token_states.grad = None
        OTAlignmentLoss(differentiable=differentiable)(student, teacher).backward()
        grad = student.token_states.grad
        assert grad is not None and torch.isfinite(grad).all() and grad[:, :4].abs().sum() > 0
        assert grad[1, 6:].abs().sum() == 0 if grad.shape[1] > 6 else True
        assert teacher.token_states.grad is None


def test_small_epsilon_in_fp32_and_bf16_autocast_is_finite() -> None:
    student = encoded([12, 30, 5], width=64, seed=7, grad=True)
    teacher = encoded([20, 9, 30], width=64, seed=8)
    loss = OTAlignmentLoss(epsilon=0.01, max_iter=300)(student, teacher)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(student.token_states.grad).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = EncodedBatch(student.token_states.bfloat16(), student.attention_mask, student.pooled.bfloat16())
        value = OTAlignmentLoss(epsilon=0.01)(half, teacher)
    assert value.dtype == torch.float32 and torch.isfinite(value)


def test_non_finite_states_stop_with_a_clear_error() -> None:
    student = encoded([4, 4], seed=9)
    student.token_states.data[0, 1, 0] = float("nan")
    with pytest.raises(NumericalError, match="NaN/inf"):
        OTAlignmentLoss()(student, encoded([4, 4], seed=10))


def test_special_tokens_can_be_dropped() -> None:
    student = encoded([6, 4], seed=11)
    teacher = encoded([5, 7], seed=12)
    loss_fn = OTAlignmentLoss(drop_special_tokens=True, max_iter=500)
    before = float(loss_fn(student, teacher))
    student.token_states.data[0, 0] = 50.0  # a special token: it must not matter any more
    student.token_states.data[1, 3] = -50.0
    assert float(loss_fn(student, teacher)) == pytest.approx(before, abs=1e-6)
    assert float(OTAlignmentLoss(max_iter=500)(student, teacher)) != pytest.approx(before, abs=1e-3)
    only_specials = encoded([2, 3], seed=13)
    with pytest.raises(DataError, match="no tokens left"):
        loss_fn(only_specials, teacher)


def test_squared_euclidean_cost_and_unbalanced_variant() -> None:
    student = encoded([5, 3], seed=14, grad=True)
    teacher = encoded([4, 6], seed=15)
    cost = token_cost(student.token_states.detach(), teacher.token_states, "sqeuclidean")
    direct = (student.token_states.detach()[:, :, None] - teacher.token_states[:, None]).square().mean(-1)
    torch.testing.assert_close(cost, direct, atol=1e-4, rtol=1e-4)
    for params in ({"cost": "sqeuclidean", "epsilon": 0.5}, {"tau": 0.5}):
        loss = OTAlignmentLoss(**params)(student, teacher)
        loss.backward()
        assert torch.isfinite(loss) and loss > 0
    balanced = OTAlignmentLoss(max_iter=1000)(student, teacher).item()
    relaxed = OTAlignmentLoss(tau=0.05, max_iter=1000)(student, teacher).item()
    assert relaxed < balanced  # relaxing the marginals lets expensive mass go untransported


def test_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown parameter"):
        OTAlignmentLoss(epsilonn=0.1)
    with pytest.raises(ConfigError, match="must be one of"):
        OTAlignmentLoss(cost="manhattan")
    with pytest.raises(ConfigError, match="epsilon must be > 0"):
        CombinedAlignmentLoss([LossSpec("ot", params={"epsilon": 0})])


def test_weighted_sum_from_config_specs() -> None:
    student = encoded([5, 3], seed=16, grad=True)
    teacher = encoded([4, 6], seed=17)
    combined = CombinedAlignmentLoss([LossSpec("ot", params={"epsilon": 0.1}), LossSpec("mse", weight=0.5)])
    total = combined(student, teacher)
    ot_part = OTAlignmentLoss(epsilon=0.1)(student, teacher)
    mse_part = torch.nn.functional.mse_loss(student.pooled, teacher.pooled)
    assert total.item() == pytest.approx((ot_part + 0.5 * mse_part).item(), rel=1e-6)
    assert set(combined.last_parts) == {"ot", "mse"}
    assert [term["name"] for term in combined.describe()] == ["ot", "mse"]
    total.backward()
    assert student.token_states.grad is not None


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([], "empty"),
        ([LossSpec("ot"), LossSpec("ot")], "twice"),
        ([LossSpec("ot", weight=-1.0)], "weight must be > 0"),
        ([LossSpec("ot", weight=float("nan"))], "weight must be a finite number"),
    ],
)
def test_bad_combinations_are_refused(specs: list[LossSpec], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CombinedAlignmentLoss(specs)


def test_unknown_loss_lists_the_choices() -> None:
    with pytest.raises(UnknownPluginError, match="unknown alignment loss 'otx'; available: (.*, )?mse, ot"):
        CombinedAlignmentLoss([LossSpec("otx")])
