"""The OT plan between an English sentence and its translation: what the student learned.

The teacher encodes the English side and the student the translation, both as in training
(``passage`` role), and the entropic plan between their token states is computed with the same
Sinkhorn as the ``ot`` loss. A plan that concentrates its mass on word translations
(``dog`` <-> ``Hund``) is the picture of a good token alignment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clir_calib.atomic import atomic_file
from clir_calib.errors import DataError
from clir_calib.losses.ot import token_cost, transport_mask
from clir_calib.losses.sinkhorn import sinkhorn_log, uniform_marginals
from clir_calib.models.encoder import Encoder

ALIGN_ROLE = "passage"  # the role distillation trains with


@dataclass
class AlignmentPlan:
    """``plan[i, j]``: mass moved from translation token ``i`` to English token ``j`` (sums to 1)."""

    english_tokens: list[str]
    translation_tokens: list[str]
    plan: np.ndarray
    cost: np.ndarray
    transport_cost: float  # <P, C>_F, the ot loss of this pair
    epsilon: float
    tau: float | None = None  # None: balanced; else the unbalanced plan's KL weight

    def strongest_partners(self) -> list[tuple[str, str, float]]:
        """For each translation token: its English partner with the most mass, and that share of its row."""
        rows = []
        for i, token in enumerate(self.translation_tokens):
            row = self.plan[i]
            j = int(row.argmax())
            share = float(row[j] / row.sum()) if row.sum() > 0 else 0.0
            rows.append((token, self.english_tokens[j], share))
        return rows


def _tokens(encoder: Encoder, text: str) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    batch = encoder.tokenize([text], ALIGN_ROLE)
    ids = batch["input_ids"][0].tolist()
    tokens = encoder.tokenizer.convert_ids_to_tokens(ids)
    return [str(t) for t in tokens], batch["input_ids"], batch["attention_mask"]


def align_with_models(
    student: str, teacher: str | None, english: str, translation: str, device: str = "auto", **options: Any
) -> AlignmentPlan:
    """:func:`align_pair` with the models loaded by name: ``student`` a distill run folder, a model name or a
    path; ``teacher`` None takes the run's teacher (its ``config.yaml``), else multilingual-e5-small."""
    from clir_calib.config import load_config
    from clir_calib.config.runs import query_encoder_config

    overrides = [f"models.teacher.name={json.dumps(teacher)}"] if teacher is not None else []
    teacher_encoder = Encoder.load(query_encoder_config(load_config(None, overrides), student), device=device)
    student_encoder = Encoder.from_pretrained(student, device=device)
    return align_pair(teacher_encoder, student_encoder, english, translation, **options)


def align_pair(
    teacher: Encoder, student: Encoder, english: str, translation: str, epsilon: float = 0.05,
    max_iter: int = 200, tau: float | None = None, drop_special_tokens: bool = False, drop_prefix_tokens: bool = False,
) -> AlignmentPlan:
    """The OT plan between ``student(translation)`` and ``teacher(english)`` token states.

    ``tau``, ``drop_special_tokens`` and ``drop_prefix_tokens`` mean what they mean in the ``ot`` loss, so the
    picture of a run is the plan its loss computed; dropped tokens are left out of the picture.
    """
    if not english.strip() or not translation.strip():
        raise DataError("align needs two non-empty sentences: the English one and its translation")
    if not epsilon > 0 or not np.isfinite(epsilon):
        raise DataError(f"align: epsilon must be a finite number > 0, got {epsilon}; pass e.g. --epsilon 0.05")
    if tau is not None and (not tau > 0 or not np.isfinite(tau)):
        raise DataError(f"align: tau must be a finite number > 0 (or omitted for balanced OT), got {tau}")
    with torch.inference_mode():
        teacher_batch = teacher.encode_batch([english], ALIGN_ROLE)
        student_batch = student.encode_batch([translation], ALIGN_ROLE)
        if student_batch.token_states.shape[-1] != teacher_batch.token_states.shape[-1]:
            raise DataError(
                "teacher and student widths differ; align needs a student trained without a projection "
                "or with the same width as the teacher"
            )
        states_s = student_batch.token_states.float().cpu()
        states_t = teacher_batch.token_states.float().cpu()
        try:
            keep_s = transport_mask(student_batch, drop_special_tokens, drop_prefix_tokens).cpu()
            keep_t = transport_mask(teacher_batch, drop_special_tokens, drop_prefix_tokens).cpu()
        except ValueError as error:
            raise DataError(f"align: {error}") from None
        cost = token_cost(states_s, states_t, "cosine")
        a = uniform_marginals(keep_s, torch.float32)
        b = uniform_marginals(keep_t, torch.float32)
        result = sinkhorn_log(cost, a, b, epsilon=epsilon, max_iter=max_iter, tol=1e-6, tau=tau)
    rows_kept = keep_s[0].numpy()
    cols_kept = keep_t[0].numpy()
    plan = result.plan[0].numpy()[np.ix_(rows_kept, cols_kept)]
    cost_np = cost[0].numpy()[np.ix_(rows_kept, cols_kept)]
    english_tokens = [t for t, keep in zip(_tokens(teacher, english)[0], cols_kept, strict=True) if keep]
    translation_tokens = [t for t, keep in zip(_tokens(student, translation)[0], rows_kept, strict=True) if keep]
    return AlignmentPlan(
        english_tokens=english_tokens,
        translation_tokens=translation_tokens,
        plan=plan,
        cost=cost_np,
        transport_cost=float((plan * cost_np).sum()),
        epsilon=epsilon,
        tau=tau,
    )


def plot_alignment(alignment: AlignmentPlan, path: str | os.PathLike[str], title: str = "") -> Path:
    """Heatmap of the plan, translation tokens as rows and English tokens as columns (PNG, atomic)."""
    if Path(path).is_dir():
        raise DataError(f"{path} is a folder; name the PNG file to write, e.g. --out {Path(path) / 'alignment.png'}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = alignment.plan.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.42 * cols + 2.0), max(3.0, 0.36 * rows + 1.6)))
    shares = alignment.plan / np.maximum(alignment.plan.sum(axis=1, keepdims=True), 1e-12)
    image: Any = ax.imshow(shares, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(cols), alignment.english_tokens, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(rows), alignment.translation_tokens, fontsize=8)
    ax.set_xlabel("English tokens (teacher)")
    ax.set_ylabel("translation tokens (student)")
    ax.set_title(title or f"OT plan (row-normalised), <P,C> = {alignment.transport_cost:.3f}", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="share of the token's mass")
    fig.tight_layout()
    target = Path(path)
    with atomic_file(target, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
    return target
