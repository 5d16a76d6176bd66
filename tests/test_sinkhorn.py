"""The batched log-domain Sinkhorn against POT, pair by pair, on padded batches of mixed lengths."""

from __future__ import annotations

import warnings

import numpy as np
import ot
import pytest
import torch

from clir_calib.losses.sinkhorn import sinkhorn_log, uniform_marginals

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see conftest.py


ROW_LENGTHS = [9, 3, 5, 1, 7, 6]
COL_LENGTHS = [11, 4, 2, 8, 1, 6]


def padded_problem(seed: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    """Random costs with padding on both sides; padded cost entries are garbage on purpose."""
    generator = torch.Generator().manual_seed(seed)
    batch, n, m = len(ROW_LENGTHS), max(ROW_LENGTHS), max(COL_LENGTHS)
    cost = torch.rand(batch, n, m, generator=generator, dtype=dtype) * 2.0
    cost = cost + 100.0 * (torch.rand(batch, n, m, generator=generator, dtype=dtype) > 0.5) * _padding(batch, n, m).to(dtype)
    row_mask = torch.zeros(batch, n)
    col_mask = torch.zeros(batch, m)
    for k, (rows, cols) in enumerate(zip(ROW_LENGTHS, COL_LENGTHS, strict=True)):
        row_mask[k, :rows] = 1
        col_mask[k, :cols] = 1
    return cost, uniform_marginals(row_mask, dtype), uniform_marginals(col_mask, dtype)


def _padding(batch: int, n: int, m: int) -> torch.Tensor:
    pad = torch.ones(batch, n, m, dtype=torch.float64)
    for k, (rows, cols) in enumerate(zip(ROW_LENGTHS, COL_LENGTHS, strict=True)):
        pad[k, :rows, :cols] = 0
    return pad


@pytest.mark.parametrize("epsilon", [0.05, 0.3])
@pytest.mark.parametrize("pot_method", ["sinkhorn", "sinkhorn_log"])
def test_balanced_plan_matches_pot_per_pair(epsilon: float, pot_method: str) -> None:
    cost, a, b = padded_problem(seed=1)
    result = sinkhorn_log(cost, a, b, epsilon, max_iter=50_000, tol=1e-11)
    assert result.converged
    for k, (rows, cols) in enumerate(zip(ROW_LENGTHS, COL_LENGTHS, strict=True)):
        expected = ot.sinkhorn(
            a[k, :rows].numpy(), b[k, :cols].numpy(), cost[k, :rows, :cols].numpy(), epsilon,
            method=pot_method, numItermax=100_000, stopThr=1e-13,
        )
        ours = result.plan[k].numpy()
        assert np.abs(ours[:rows, :cols] - expected).max() <= 1e-5
        assert np.all(ours[rows:, :] == 0) and np.all(ours[:, cols:] == 0)  # padding carries no mass


@pytest.mark.parametrize("tau", [0.1, 1.0])
@pytest.mark.parametrize(("reference", "reg_type"), [("product", "kl"), ("uniform", "entropy")])
def test_unbalanced_plan_matches_pot_per_pair(tau: float, reference: str, reg_type: str) -> None:
    cost, a, b = padded_problem(seed=2)
    epsilon = 0.1
    result = sinkhorn_log(cost, a, b, epsilon, max_iter=20_000, tol=1e-13, tau=tau, reference=reference)
    assert result.converged
    for k, (rows, cols) in enumerate(zip(ROW_LENGTHS, COL_LENGTHS, strict=True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # POT warns that reg_type="entropy" overrides c
            expected = ot.unbalanced.sinkhorn_unbalanced(
                a[k, :rows].numpy(), b[k, :cols].numpy(), cost[k, :rows, :cols].numpy(), epsilon, tau,
                reg_type=reg_type, numItermax=100_000, stopThr=1e-14,
            )
        assert np.abs(result.plan[k, :rows, :cols].numpy() - expected).max() <= 1e-5
    # relaxed marginals: the plan does not have to match a and b (it does not, for small tau)
    assert (result.plan.sum(dim=2) - a).abs().max() > 1e-3


def test_balanced_marginals_match() -> None:
    cost, a, b = padded_problem(seed=3)
    plan = sinkhorn_log(cost, a, b, 0.05, max_iter=2000, tol=1e-10).plan
    torch.testing.assert_close(plan.sum(dim=2), a, atol=1e-8, rtol=0)
    torch.testing.assert_close(plan.sum(dim=1), b, atol=1e-8, rtol=0)


def test_small_epsilon_fp32_stays_finite() -> None:
    """At eps=0.01 exp(-C/eps) underflows fp32 for C > ~0.9; the log domain must not care."""
    cost, a, b = padded_problem(seed=4, dtype=torch.float32)
    cost = cost.clamp(max=2.0)
    result = sinkhorn_log(cost, a, b, 0.01, max_iter=500, tol=1e-5)
    assert torch.isfinite(result.plan).all()
    assert torch.isfinite(result.log_u).all() and torch.isfinite(result.log_v).all()
    torch.testing.assert_close(result.plan.sum(dim=1), b, atol=1e-5, rtol=0)
    # fp32 follows the fp64 iterates closely (no precision blow-up) ...
    reference = sinkhorn_log(cost.double(), a.double(), b.double(), 0.01, max_iter=500, tol=1e-5)
    assert (result.plan.double() - reference.plan).abs().max() < 1e-4
    # ... and the reported error is the row-marginal violation, which shrinks with more sweeps
    violation = (result.plan.sum(dim=2) - a).abs().sum(dim=1).max()
    assert violation <= result.error + 1e-4
    longer = sinkhorn_log(cost, a, b, 0.01, max_iter=2000, tol=1e-5)
    assert longer.error < result.error


def test_plan_is_not_differentiated_unless_asked() -> None:
    cost, a, b = padded_problem(seed=5)
    cost.requires_grad_(True)
    assert not sinkhorn_log(cost, a, b, 0.1).plan.requires_grad
    through = sinkhorn_log(cost, a, b, 0.1, max_iter=50, differentiable=True).plan
    assert through.requires_grad
    (through * cost).sum().backward()
    assert cost.grad is not None and torch.isfinite(cost.grad).all()


def test_iteration_cap_is_reported() -> None:
    cost, a, b = padded_problem(seed=6)
    result = sinkhorn_log(cost, a, b, 0.01, max_iter=3, tol=1e-12)
    assert result.iterations == 3 and not result.converged and result.error > 1e-12


def test_sparse_convergence_checks_give_the_same_plan() -> None:
    """Checking every 10th sweep (the GPU default) stops at a multiple of 10 with the same answer."""
    cost, a, b = padded_problem(seed=8)
    every = sinkhorn_log(cost, a, b, 0.1, max_iter=1000, tol=1e-9, check_every=1)
    sparse = sinkhorn_log(cost, a, b, 0.1, max_iter=1000, tol=1e-9, check_every=10)
    assert every.converged and sparse.converged
    assert sparse.iterations % 10 == 0 and every.iterations <= sparse.iterations < every.iterations + 10
    torch.testing.assert_close(sparse.plan, every.plan, atol=1e-8, rtol=0)
    with pytest.raises(ValueError, match="check_every"):
        sinkhorn_log(cost, a, b, 0.1, check_every=0)


def test_bad_inputs_are_refused() -> None:
    cost, a, b = padded_problem(seed=7)
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn_log(cost, a, b, 0.0)
    with pytest.raises(ValueError, match="tau"):
        sinkhorn_log(cost, a, b, 0.1, tau=-1.0)
    with pytest.raises(ValueError, match="do not fit"):
        sinkhorn_log(cost, a[:, :3], b, 0.1)
    with pytest.raises(ValueError, match="no unmasked token"):
        uniform_marginals(torch.tensor([[1, 1], [0, 0]]))
