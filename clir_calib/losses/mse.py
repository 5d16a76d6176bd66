"""Sentence-level MSE distillation (the multilingual knowledge-distillation baseline)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from clir_calib.losses.base import AlignmentLoss, EncodedBatch
from clir_calib.params import Param


class MSEAlignmentLoss(AlignmentLoss):
    """MSE between pooled student(xx) and teacher(en) embeddings; optionally student(en) too."""

    name = "mse"
    description = "Sentence-level MSE between pooled student(xx) and teacher(en) embeddings."
    citation = (
        "Reimers, N. and Gurevych, I. (2020). Making Monolingual Sentence Embeddings Multilingual "
        "using Knowledge Distillation. EMNLP 2020."
    )
    params = (
        Param("include_source", False, "also pull student(en) towards teacher(en)", type=bool),
    )

    @property
    def needs_student_source(self) -> bool:  # type: ignore[override]
        return bool(self.config["include_source"])

    def forward(
        self,
        student: EncodedBatch,
        teacher: EncodedBatch,
        student_source: EncodedBatch | None = None,
    ) -> torch.Tensor:
        target = teacher.pooled.detach().to(student.pooled.dtype)
        loss = F.mse_loss(student.pooled, target)
        if self.config["include_source"]:
            if student_source is None:
                raise ValueError("mse with include_source=true needs the student's encoding of English")
            loss = loss + F.mse_loss(student_source.pooled, target)
        return loss
