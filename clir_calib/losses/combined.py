"""A weighted sum of registered alignment losses, built from the config's ``LossSpec`` list.

``distill.losses: [{name: ot}, {name: mse, weight: 0.5}]`` gives ``OT + 0.5 * MSE`` with no new
code; any plugin loss can take part.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from clir_calib.config import LossSpec
from clir_calib.errors import ConfigError
from clir_calib.losses.base import AlignmentLoss, EncodedBatch
from clir_calib.params import check_fields
from clir_calib.plugins import ALIGNMENT_LOSSES


def build_loss(spec: LossSpec) -> AlignmentLoss:
    """Instantiate one registered loss; unknown names and bad parameters become one-line errors."""
    cls = ALIGNMENT_LOSSES.get(spec.name)
    try:
        loss = cls(**spec.params)
    except ValueError as error:
        raise ConfigError(f"loss {spec.name!r}: {error}") from None
    if not isinstance(loss, AlignmentLoss):
        raise ConfigError(f"loss {spec.name!r} is not an AlignmentLoss; fix the plugin that registers it")
    return loss


class CombinedAlignmentLoss(nn.Module):
    """``sum_k weight_k * loss_k``; :attr:`last_parts` keeps each term's value for logging."""

    def __init__(self, specs: list[LossSpec]) -> None:
        super().__init__()
        if not specs:
            raise ConfigError("distill.losses is empty; name at least one loss, e.g. --loss ot")
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"distill.losses names a loss twice ({', '.join(names)}); give each once")
        for spec in specs:
            check_fields(spec, f"loss {spec.name!r}")
        self.specs = list(specs)
        self.terms = nn.ModuleList([build_loss(spec) for spec in specs])
        self.last_parts: dict[str, float] = {}

    @property
    def needs_student_source(self) -> bool:
        return any(bool(term.needs_student_source) for term in self.terms)

    @property
    def needs_teacher_queries(self) -> bool:
        return any(bool(term.needs_teacher_queries) for term in self.terms)

    def bind_listwise_temperature(self, temperature: float) -> None:
        for term in self.terms:
            assert isinstance(term, AlignmentLoss)
            term.bind_listwise_temperature(temperature)

    def forward(
        self,
        student: EncodedBatch,
        teacher: EncodedBatch,
        student_source: EncodedBatch | None = None,
    ) -> torch.Tensor:
        total: torch.Tensor | None = None
        parts: dict[str, torch.Tensor] = {}
        for spec, term in zip(self.specs, self.terms, strict=True):
            value = term(student, teacher, student_source)
            parts[spec.name] = value.detach()
            weighted = spec.weight * value
            total = weighted if total is None else total + weighted
        assert total is not None
        self.last_parts = {name: float(value) for name, value in parts.items()}
        return total

    def describe(self) -> list[dict[str, Any]]:
        """Each term with its weight, resolved parameters and citation (for the model card)."""
        described = []
        for spec, term in zip(self.specs, self.terms, strict=True):
            assert isinstance(term, AlignmentLoss)
            described.append(
                {"name": spec.name, "weight": spec.weight, "params": term.get_config_dict(), "citation": term.citation}
            )
        return described
