"""Score distillation: match the teacher's in-batch *score distribution*, not its vectors or tokens.

For a batch of translation pairs ``(en_i, xx_i)`` the frozen teacher encodes ``en_i`` as a query
(``q_i``) and as a passage (``t_j``); the student encodes ``xx_j`` as a passage (``s_j``). Each English
query then has two distributions over the batch's captions,

    p_i = softmax_j(cos(q_i, t_j) / T)      (the teacher on English captions)
    r_i = softmax_j(cos(q_i, s_j) / T)      (the same teacher query on the student's xx captions)

and the loss is ``mean_i KL(p_i || r_i)``. It is zero exactly when every row of the student's score
matrix equals the teacher's up to a per-row constant, so it targets the quantity the listwise
calibration view measures: a query's distribution of scores over its candidates. ``T`` defaults to the
teacher's listwise temperature (E5: 0.01), the one ``evaluate``'s raw listwise view uses.

Inputs: ``student.pooled`` ``[B, d]``, ``teacher.pooled`` ``[B, d]`` and ``teacher.query_pooled`` ``[B, d]``
(the training loop fills it because the loss sets ``needs_teacher_queries``). Requires a batch of at
least two pairs (one pair has a one-point distribution, and the loss is 0). Example::

    distill.losses: [{name: score-kl}]                       # alone
    distill.losses: [{name: ot}, {name: score-kl, weight: 1}]  # with token OT (ot+score-kl)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from clir_calib.losses.base import AlignmentLoss, EncodedBatch
from clir_calib.params import Param


class ScoreKLAlignmentLoss(AlignmentLoss):
    """Row-wise KL between the teacher's and the student's in-batch query-to-caption score distributions."""

    name = "score-kl"
    needs_teacher_queries = True
    description = ("In-batch KL between the teacher's English-query to English-caption score distribution and the "
                   "same queries' distribution over the student's xx captions.")
    citation = (
        "Lin, S.-C., Yang, J.-H. and Lin, J. (2021). In-Batch Negatives for Knowledge Distillation with Tightly-Coupled "
        "Teachers for Dense Retrieval. RepL4NLP 2021. Hofstätter, S. et al. (2020). Improving Efficient Neural Ranking "
        "Models with Cross-Architecture Knowledge Distillation, arXiv 2010.02666. Yang, E. et al. (2024). "
        "Translate-Distill: Learning Cross-Language Dense Retrieval by Translation and Distillation, ECIR 2024, "
        "arXiv 2401.04810."
    )
    params = (
        Param("temperature", None, "softmax temperature of the score distributions (empty: the teacher's listwise "
              "temperature, as evaluate's raw listwise view; E5: 0.01)", optional=True, above=0),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.temperature: float | None = self.config["temperature"]

    def bind_listwise_temperature(self, temperature: float) -> None:
        if self.config["temperature"] is None:
            self.temperature = float(temperature)
            self.config["temperature"] = self.temperature  # the model card records the value trained with

    def forward(
        self,
        student: EncodedBatch,
        teacher: EncodedBatch,
        student_source: EncodedBatch | None = None,
    ) -> torch.Tensor:
        if teacher.query_pooled is None:
            raise ValueError("score-kl needs the teacher's query encodings (teacher.query_pooled); the training loop "
                             "fills them for losses with needs_teacher_queries")
        if self.temperature is None:
            raise ValueError("score-kl has no temperature: set it, or call bind_listwise_temperature() first")
        dtype = student.pooled.dtype
        queries = F.normalize(teacher.query_pooled.detach().to(dtype), dim=-1)
        captions = F.normalize(teacher.pooled.detach().to(dtype), dim=-1)
        translated = F.normalize(student.pooled, dim=-1)
        target = F.log_softmax(queries @ captions.T / self.temperature, dim=-1)
        predicted = F.log_softmax(queries @ translated.T / self.temperature, dim=-1)
        return F.kl_div(predicted, target, reduction="batchmean", log_target=True)
