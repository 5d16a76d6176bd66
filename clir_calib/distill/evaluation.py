"""Validation during distillation: bitext retrieval accuracy en -> xx.

Each English sentence (teacher, ``query`` role) retrieves among all student-encoded xx sentences
(``passage`` role) of the validation bitext; accuracy is the share whose top-1 is its translation.
This is the retrieval setting the student is trained for, at a glance and in seconds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def top1_accuracy(queries: torch.Tensor, documents: torch.Tensor) -> float:
    """Share of rows ``i`` whose most similar document (cosine) is document ``i``."""
    if queries.shape[0] != documents.shape[0] or queries.shape[0] == 0:
        raise ValueError(f"need as many queries as documents (> 0), got {queries.shape[0]} and {documents.shape[0]}")
    scores = F.normalize(queries.float(), dim=-1) @ F.normalize(documents.float(), dim=-1).T
    best = scores.argmax(dim=1)
    return float((best == torch.arange(len(best))).float().mean())
