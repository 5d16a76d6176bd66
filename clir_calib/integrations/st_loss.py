"""clir-calib's token-level OT distillation (OPTICAL) as a sentence-transformers loss.

Use it in ``SentenceTransformerTrainer`` with a bitext dataset of two text columns, English first, then the
other language (as sentence-transformers' own ``MSELoss`` recipe lays them out): the frozen ``teacher`` encodes the
English column and the trained ``model`` the other one; the loss is clir-calib's ``ot`` loss
(:class:`clir_calib.losses.ot.OTAlignmentLoss`, the same parameters) on their token states. When the two
models tokenise differently, the English input ids are decoded and tokenised again by the teacher. Needs the
``[st]`` extra. Example::

    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from clir_calib.integrations.st_loss import OTDistillationLoss

    student = SentenceTransformer("intfloat/multilingual-e5-small")
    teacher = SentenceTransformer("intfloat/multilingual-e5-small")
    loss = OTDistillationLoss(student, teacher, epsilon=0.05)
    SentenceTransformerTrainer(model=student, train_dataset=bitext, loss=loss).train()  # columns: english, german
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from clir_calib.losses.base import EncodedBatch
from clir_calib.losses.ot import OTAlignmentLoss


def encoded(model: Any, features: dict[str, torch.Tensor]) -> EncodedBatch:
    """A sentence-transformers model's output for tokenised ``features`` as clir-calib's :class:`EncodedBatch`."""
    output = model(dict(features))
    ids = features["input_ids"]
    special = torch.isin(ids, torch.tensor(sorted(model.tokenizer.all_special_ids), device=ids.device))
    return EncodedBatch(output["token_embeddings"], output["attention_mask"], output["sentence_embedding"],
                        special.long())


class OTDistillationLoss(nn.Module):
    """OPTICAL's loss for ``SentenceTransformerTrainer``: entropic OT between the student's xx tokens and the frozen
    teacher's English tokens, ``<P, C>_F`` averaged over the batch (parameters as clir-calib's ``ot`` loss)."""

    def __init__(self, model: Any, teacher: Any, **ot_params: Any) -> None:
        super().__init__()
        self.model = model
        self.teacher = teacher.eval().requires_grad_(False)
        self.ot = OTAlignmentLoss(**ot_params)
        self.same_tokenizer = teacher.tokenizer.get_vocab() == model.tokenizer.get_vocab()

    def forward(self, sentence_features: Iterable[dict[str, torch.Tensor]], labels: torch.Tensor | None = None
                ) -> torch.Tensor:
        columns = list(sentence_features)
        if len(columns) != 2:
            raise ValueError(f"OTDistillationLoss takes two text columns (English, then the other language), got "
                             f"{len(columns)}")
        english, other = columns
        if not self.same_tokenizer:
            texts = self.model.tokenizer.batch_decode(english["input_ids"], skip_special_tokens=True)
            english = {k: v.to(english["input_ids"].device) for k, v in self.teacher.tokenize(texts).items()}
        with torch.no_grad():
            target = encoded(self.teacher, english)
        return self.ot(encoded(self.model, other), target)

    def get_config_dict(self) -> dict[str, Any]:
        return self.ot.get_config_dict()

    @property
    def citation(self) -> str:
        return """@inproceedings{huang2023optical,
  title = {Improving Cross-lingual Information Retrieval on Low-Resource Languages via Optimal Transport Distillation},
  author = {Huang, Zhiqi and Yu, Puxuan and Allan, James},
  booktitle = {Proceedings of the Sixteenth ACM International Conference on Web Search and Data Mining (WSDM)},
  year = {2023}
}"""
