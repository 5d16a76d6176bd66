"""Batched entropic optimal transport in the log domain (Sinkhorn), for padded token batches.

Solves, for every item ``k`` of a batch at once (no Python loop over pairs),

* balanced:   ``min_P <P, C> - eps * H(P)``  s.t. ``P 1 = a``, ``P^T 1 = b``
  (``H(P) = -sum P (log P - 1)``; the same problem as POT's ``ot.sinkhorn``), or
* unbalanced: ``min_P <P, C> + eps * KL(P | r) + tau * KL(P 1 | a) + tau * KL(P^T 1 | b)``
  (generalised KL; reference ``r = a b^T`` for ``reference="product"``, POT's ``reg_type="kl"``,
  or ``r = 1`` for ``reference="uniform"``, POT's ``reg_type="entropy"``; POT's ``reg_m`` is ``tau``).

Padding is expressed by zero weights in ``a``/``b``: those rows/columns get exactly zero mass. All
updates are done on log-scalings with ``logsumexp``, so small ``eps`` (0.01 in fp32) does not
underflow the Gibbs kernel ``exp(-C/eps)`` the way the plain (multiplicative) algorithm does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Stand-in for log(0) on padded positions: finite, so that gradients through the iterations stay
#: NaN-free (``-inf - -inf`` is NaN), and so far below any real log-kernel entry that exp() of it
#: is exactly 0 in fp32 and fp64. Half-precision costs are upcast to fp32 first.
_LOG_ZERO = -1e30


@dataclass
class SinkhornResult:
    """The transport plans ``[B, n, m]`` and how the iterations went."""

    plan: torch.Tensor
    log_u: torch.Tensor  # [B, n] log row scalings (meaningless on padded rows)
    log_v: torch.Tensor  # [B, m] log column scalings (meaningless on padded columns)
    iterations: int
    converged: bool
    error: float  # the last convergence measure (see :func:`sinkhorn_log`)


def uniform_marginals(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform weights over the positions where ``mask`` is nonzero (each row sums to 1).

    A row without any nonzero position is an error: it has no mass to transport.
    """
    weights = (mask != 0).to(dtype)
    counts = weights.sum(dim=-1, keepdim=True)
    if bool((counts == 0).any()):
        raise ValueError("uniform_marginals: a sequence has no unmasked token; nothing to transport")
    return weights / counts


#: the convergence tolerance of the ``ot`` loss and of calls that do not give one
DEFAULT_TOL = 1e-4


def sinkhorn_log(
    cost: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    epsilon: float,
    max_iter: int = 100,
    tol: float = DEFAULT_TOL,
    tau: float | None = None,
    reference: str = "product",
    differentiable: bool = False,
    check_every: int | None = None,
) -> SinkhornResult:
    """Entropic OT plans for a batch of cost matrices ``[B, n, m]`` with weights ``a [B, n]``, ``b [B, m]``.

    ``tau=None`` solves the balanced problem (``a`` and ``b`` must have equal mass per item);
    a positive ``tau`` the KL-relaxed unbalanced one (see the module docstring). The iterations
    stop when every item has converged or after ``max_iter`` sweeps. Convergence: balanced, the
    largest L1 violation of the row marginals (the column marginals are exact after each sweep);
    unbalanced, the largest change of the dual potentials ``eps * log u`` and ``eps * log v``.

    With ``differentiable=False`` (the default) the plan is computed without autograd: gradients
    of ``(plan * cost).sum()`` then flow through the cost only (the envelope-theorem gradient of
    the transport cost at the optimum). ``differentiable=True`` backpropagates through every
    iteration (exact gradient of the truncated algorithm; more memory).

    ``check_every`` sweeps the convergence test runs (and, on a GPU, waits for the device); the
    default is every sweep on CPU and every 10th on other devices, where each test is a sync.
    """
    if cost.dim() != 3:
        raise ValueError(f"sinkhorn_log: cost must be [B, n, m], got shape {tuple(cost.shape)}")
    if a.shape != cost.shape[:2] or b.shape != (cost.shape[0], cost.shape[2]):
        raise ValueError(
            f"sinkhorn_log: weights {tuple(a.shape)} and {tuple(b.shape)} do not fit cost {tuple(cost.shape)}"
        )
    if not epsilon > 0:
        raise ValueError(f"sinkhorn_log: epsilon must be > 0, got {epsilon}")
    if tau is not None and not tau > 0:
        raise ValueError(f"sinkhorn_log: tau must be > 0 (or None for balanced OT), got {tau}")
    if reference not in ("product", "uniform"):
        raise ValueError(f"sinkhorn_log: reference must be 'product' or 'uniform', got {reference!r}")
    if check_every is None:
        check_every = 1 if cost.device.type == "cpu" else 10
    if check_every < 1:
        raise ValueError(f"sinkhorn_log: check_every must be at least 1, got {check_every}")
    with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
        return _iterate(cost, a, b, epsilon, max_iter, tol, tau, reference, check_every)


def _safe_log(weights: torch.Tensor) -> torch.Tensor:
    return torch.where(weights > 0, weights.clamp_min(1e-300).log(), torch.full_like(weights, _LOG_ZERO))


def _iterate(
    cost: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    epsilon: float,
    max_iter: int,
    tol: float,
    tau: float | None,
    reference: str,
    check_every: int,
) -> SinkhornResult:
    if cost.dtype in (torch.float16, torch.bfloat16):
        cost = cost.float()
    dtype = cost.dtype
    a = a.to(dtype)
    b = b.to(dtype)
    row_mask = a > 0
    col_mask = b > 0
    log_a = _safe_log(a)
    log_b = _safe_log(b)
    # log Gibbs kernel; masked entries pushed far down so they carry no mass in any logsumexp
    log_kernel = -cost / epsilon
    if tau is not None and reference == "product":
        log_kernel = log_kernel + log_a[:, :, None] + log_b[:, None, :]
    pair_mask = row_mask[:, :, None] & col_mask[:, None, :]
    log_kernel = log_kernel.masked_fill(~pair_mask, _LOG_ZERO)
    exponent = 1.0 if tau is None else tau / (tau + epsilon)

    log_u = torch.zeros_like(log_a)
    log_v = torch.zeros_like(log_b)
    error = float("inf")
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        check = iterations % check_every == 0 or iterations == max_iter
        row_lse = torch.logsumexp(log_kernel + log_v[:, None, :], dim=2)
        if tau is None and check:
            # row sums of the current plan are exp(log_u + row_lse): measure before updating
            row_sums = torch.exp(log_u + row_lse).masked_fill(~row_mask, 0.0)
            error = float((row_sums - a).abs().sum(dim=1).max().detach())
        new_log_u = exponent * (log_a - row_lse)
        col_lse = torch.logsumexp(log_kernel + new_log_u[:, :, None], dim=1)
        new_log_v = exponent * (log_b - col_lse)
        if tau is not None and check:
            change_u = ((new_log_u - log_u).abs() * row_mask).amax()
            change_v = ((new_log_v - log_v).abs() * col_mask).amax()
            error = float(epsilon * torch.maximum(change_u, change_v).detach())
        log_u, log_v = new_log_u, new_log_v
        if check and error < tol:
            break
    plan = torch.exp(log_u[:, :, None] + log_kernel + log_v[:, None, :])
    plan = plan * pair_mask.to(dtype)
    return SinkhornResult(
        plan=plan, log_u=log_u, log_v=log_v, iterations=iterations, converged=error < tol, error=error
    )
