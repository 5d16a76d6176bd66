"""The contract every alignment loss follows (built-in or from a plugin).

Like sentence-transformers' losses, each loss is an ``nn.Module`` with one ``forward``
signature, a ``citation`` and ``get_config_dict()``; like ir_measures' measures, it declares its
parameters (:class:`clir_calib.params.Param`) so that ``clir-calib plugins`` documents it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from clir_calib.models.batch import EncodedBatch
from clir_calib.params import Declared

__all__ = ["AlignmentLoss", "EncodedBatch"]


class AlignmentLoss(nn.Module, Declared):
    """Base class: align the student's encoding of xx with the teacher's encoding of en.

    Subclasses set ``name``, ``description``, ``citation`` and ``params`` and implement
    :meth:`forward`. Parameters arrive as keyword arguments, are validated against ``params`` and
    stored in ``self.config``.
    """

    #: True when the loss also wants the student's encoding of the English side.
    needs_student_source: ClassVar[bool] = False
    #: True for a token-level transport loss with ``epsilon``, ``tau`` and ``drop_special_tokens`` parameters: the
    #: report then shows its settings grid and its plans (found by this capability, never by the loss's name).
    transports_tokens: ClassVar[bool] = False
    #: True when the loss reads ``teacher.query_pooled``: the teacher's encodings of the English texts as queries.
    needs_teacher_queries: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.config: dict[str, Any] = self.resolve_params(params)

    def forward(
        self,
        student: EncodedBatch,
        teacher: EncodedBatch,
        student_source: EncodedBatch | None = None,
    ) -> torch.Tensor:
        """Return a scalar loss; ``teacher`` is frozen, gradients flow into ``student``."""
        raise NotImplementedError

    def bind_listwise_temperature(self, temperature: float) -> None:
        """Told, before training, the teacher's listwise temperature (the one ``evaluate``'s raw listwise view
        uses, :mod:`clir_calib.models.temperature`); a loss with a score temperature may default to it."""
        return None

    def get_config_dict(self) -> dict[str, Any]:
        """The resolved parameters, for model cards and logs."""
        return dict(self.config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())
