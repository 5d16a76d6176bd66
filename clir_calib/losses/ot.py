"""Token-level optimal-transport distillation (OPTICAL-style): align student(xx) tokens with teacher(en) tokens.

For each pair the cost between student token ``i`` and teacher token ``j`` is ``1 - cos`` (or the
squared Euclidean distance divided by the width), the marginals are uniform over the real tokens of
each side, the entropic plan ``P`` comes from the batched log-domain Sinkhorn in
:mod:`clir_calib.losses.sinkhorn` and the loss is ``<P, C>_F`` averaged over the batch.

About zero: for two identical token sets the unregularised OT cost is 0, but the entropic plan is
blurred, so the loss is small and positive: ``0 <= loss <= epsilon * log(n)`` for ``n`` tokens
(balanced case; entropic-OT optimality against the diagonal coupling, with ``H(P) <= 2 log n``).
It tends to 0 as ``epsilon`` does.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from clir_calib.errors import DataError, NumericalError
from clir_calib.losses.base import AlignmentLoss, EncodedBatch
from clir_calib.losses.sinkhorn import DEFAULT_TOL, sinkhorn_log, uniform_marginals
from clir_calib.params import Param


def token_cost(student: torch.Tensor, teacher: torch.Tensor, kind: str) -> torch.Tensor:
    """Pairwise cost ``[B, n, m]`` between student tokens ``[B, n, d]`` and teacher tokens ``[B, m, d]``."""
    if kind == "cosine":
        # clamped to [0, 2]: a float cosine may exceed 1 by a rounding step, and a cost must not be negative
        cosine = F.normalize(student, dim=-1) @ F.normalize(teacher, dim=-1).transpose(1, 2)
        return (1.0 - cosine).clamp(0.0, 2.0)
    if kind == "sqeuclidean":
        # mean squared difference per dimension, so that epsilon means the same at any width
        distance = torch.cdist(student, teacher, compute_mode="use_mm_for_euclid_dist").square()
        return distance.clamp_min(0.0) / student.shape[-1]
    raise ValueError(f"unknown OT cost {kind!r}; choose cosine or sqeuclidean")


def transport_mask(batch: EncodedBatch, drop_special_tokens: bool, drop_prefix_tokens: bool = False) -> torch.Tensor:
    """Positions that carry mass: real tokens, minus special tokens and the role's text prefix when asked."""
    mask = batch.attention_mask != 0
    if drop_special_tokens:
        if batch.special_tokens_mask is None:
            raise ValueError("ot with drop_special_tokens=true needs the encoder's special_tokens_mask")
        mask = mask & (batch.special_tokens_mask == 0)
    if drop_prefix_tokens:
        if batch.prefix_tokens_mask is None:
            raise ValueError("ot with drop_prefix_tokens=true needs the encoder's prefix_tokens_mask")
        mask = mask & (batch.prefix_tokens_mask == 0)
    if not bool(mask.any(dim=1).all()):
        raise DataError(
            "a text has no tokens left to align (empty text, or only special or prefix tokens); remove empty lines "
            "from the bitext or set drop_special_tokens=false and drop_prefix_tokens=false"
        )
    return mask


class OTAlignmentLoss(AlignmentLoss):
    """Entropic OT between student(xx) and teacher(en) token states; loss = <P, C>_F, batch mean."""

    name = "ot"
    transports_tokens = True
    description = "Token-level entropic optimal transport between student(xx) and teacher(en) tokens."
    citation = (
        "Huang, Z., Yu, P. and Allan, J. (2023). Improving Cross-lingual Information Retrieval on "
        "Low-Resource Languages via Optimal Transport Distillation (OPTICAL). WSDM 2023. "
        "Sinkhorn: Cuturi, M. (2013), NeurIPS; unbalanced: Chizat, L. et al. (2018), Math. Comp."
    )
    params = (
        Param("epsilon", 0.05, "entropic regularisation, in cost units (smaller: sharper plan)", above=0),
        Param("max_iter", 100, "maximum Sinkhorn sweeps", type=int, at_least=1, at_most=100_000),
        Param("tol", DEFAULT_TOL, "stop when the marginal error (balanced) or potential change (unbalanced) is below",
              above=0),
        Param("cost", "cosine", "token cost: 1 - cos, or squared Euclidean / width", type=str,
              choices=("cosine", "sqeuclidean")),
        Param("tau", None, "unbalanced OT: KL marginal relaxation weight (empty: balanced)", optional=True, above=0),
        Param("drop_special_tokens", False, "give special tokens (<s>, </s>, [CLS], ...) no mass", type=bool),
        Param("drop_prefix_tokens", False, "give the role's text prefix (E5's \"passage: \") no mass: only the "
              "text's own tokens are transported", type=bool),
        Param("differentiable", False, "backpropagate through the Sinkhorn iterations too", type=bool),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        #: Iterations and convergence of the last call, for training logs.
        self.last_info: dict[str, Any] = {}

    def forward(
        self,
        student: EncodedBatch,
        teacher: EncodedBatch,
        student_source: EncodedBatch | None = None,
    ) -> torch.Tensor:
        cfg = self.config
        student_mask = transport_mask(student, cfg["drop_special_tokens"], cfg["drop_prefix_tokens"])
        teacher_mask = transport_mask(teacher, cfg["drop_special_tokens"], cfg["drop_prefix_tokens"])
        device_type = student.token_states.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            dtype = torch.float64 if student.token_states.dtype == torch.float64 else torch.float32
            student_states = student.token_states.to(dtype)
            teacher_states = teacher.token_states.detach().to(dtype)
            cost = token_cost(student_states, teacher_states, cfg["cost"])
            a = uniform_marginals(student_mask, dtype)
            b = uniform_marginals(teacher_mask, dtype)
            result = sinkhorn_log(
                cost, a, b, epsilon=cfg["epsilon"], max_iter=cfg["max_iter"], tol=cfg["tol"],
                tau=cfg["tau"], differentiable=cfg["differentiable"],
            )
            per_pair = (result.plan * cost).sum(dim=(1, 2))
            loss = per_pair.mean()
        self.last_info = {"sinkhorn_iterations": result.iterations, "sinkhorn_converged": result.converged}
        if not bool(torch.isfinite(loss.detach())):
            raise NumericalError(
                f"ot loss is {float(loss.detach())} (NaN/inf) with epsilon={cfg['epsilon']}: the encoder "
                "produced non-finite token states or the cost overflowed; lower the learning rate, "
                "raise ot epsilon, or check the model for NaN weights"
            )
        return loss
