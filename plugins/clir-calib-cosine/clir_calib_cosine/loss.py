"""The cosine alignment loss: a module of its own, imported only when a registry asks for losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from clir_calib.losses import AlignmentLoss, EncodedBatch
from clir_calib.params import Param


class CosineAlignmentLoss(AlignmentLoss):
    """Mean of 1 - cos(student(xx), teacher(en)) over the batch, on pooled embeddings."""

    name = "cosine"
    description = "Sentence-level 1 - cosine between pooled student(xx) and teacher(en)."
    citation = "Example plugin; see Reimers and Gurevych (2020) for the MSE variant."
    params = (Param("margin", 0.0, "cosine above 1 - margin costs nothing"),)

    def forward(
        self,
        student: EncodedBatch,
        teacher: EncodedBatch,
        student_source: EncodedBatch | None = None,
    ) -> torch.Tensor:
        cosine = F.cosine_similarity(student.pooled, teacher.pooled.detach().to(student.pooled.dtype), dim=-1)
        return torch.clamp(1.0 - cosine - self.config["margin"], min=0.0).mean()


