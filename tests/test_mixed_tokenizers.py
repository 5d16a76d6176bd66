"""A teacher and a student that tokenise differently (WordPiece vs SentencePiece-style Unigram).

The OPTICAL setting proper: an English teacher, a multilingual student. Each place where the two
tokenisations meet is covered: the OT loss, special tokens of both models, distillation with its
val accuracy check, the alignment viewer and the embedding-cache keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from clir_calib.alignment import align_pair
from clir_calib.config import load_config
from clir_calib.losses.ot import OTAlignmentLoss, transport_mask
from clir_calib.losses.sinkhorn import uniform_marginals
from clir_calib.models.encoder import Encoder

SENTENCES_EN = ["a dog is running in the street", "two children playing with a ball"]
SENTENCES_DE = ["ein hund läuft auf der straße", "kinder spielt mit ball"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see conftest.py


@pytest.fixture
def pair(tiny_model_dir: Path, tiny_unigram_model_dir: Path) -> tuple[Encoder, Encoder]:
    teacher = Encoder.from_pretrained(tiny_model_dir, device="cpu")  # WordPiece, [CLS] ... [SEP]
    student = Encoder.from_pretrained(tiny_unigram_model_dir, device="cpu")  # Unigram "▁", <s> ... </s>
    return teacher, student


def test_the_two_models_really_tokenise_differently(pair: tuple[Encoder, Encoder]) -> None:
    teacher, student = pair
    t = teacher.tokenizer.convert_ids_to_tokens(teacher.tokenize([SENTENCES_EN[0]])["input_ids"][0])
    s = student.tokenizer.convert_ids_to_tokens(student.tokenize([SENTENCES_EN[0]])["input_ids"][0])
    assert t[0] == "[CLS]" and s[0] == "<s>" and len(s) != len(t) and any(p.startswith("▁") for p in s)


@pytest.mark.parametrize("drop", [False, True])
def test_ot_loss_between_tokenisers_with_both_models_special_tokens(pair: tuple[Encoder, Encoder], drop: bool) -> None:
    teacher, student = pair
    with torch.no_grad():
        target = teacher.encode_batch(SENTENCES_EN, "passage")
    mine = student.encode_batch(SENTENCES_DE, "passage")
    assert mine.token_states.shape[1] != target.token_states.shape[1]  # different lengths per batch
    for batch, encoder in ((target, teacher), (mine, student)):
        mask = transport_mask(batch, drop)
        mass = uniform_marginals(mask, torch.float32)
        ids = encoder.tokenize(SENTENCES_EN if encoder is teacher else SENTENCES_DE)["input_ids"]
        specials = torch.isin(ids, torch.tensor(encoder.tokenizer.all_special_ids))
        real = batch.attention_mask.bool()
        assert torch.allclose(mass.sum(dim=1), torch.ones(2))
        if drop:  # no mass on [CLS]/[SEP] (teacher) nor on <s>/</s> (student)
            assert float(mass[specials & real].abs().sum()) == 0.0
        else:
            assert bool((mass[specials & real] > 0).all())
    loss = OTAlignmentLoss(drop_special_tokens=drop)(mine, target)
    loss.backward()
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    grads = [p.grad for p in student.model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_unbalanced_ot_moves_less_mass_when_one_side_splits_words(pair: tuple[Encoder, Encoder]) -> None:
    teacher, student = pair
    from clir_calib.losses.ot import token_cost
    from clir_calib.losses.sinkhorn import sinkhorn_log

    with torch.no_grad():
        target = teacher.encode_batch(SENTENCES_EN, "passage")
        mine = student.encode_batch(SENTENCES_EN, "passage")
        cost = token_cost(mine.token_states, target.token_states, "cosine")
        a = uniform_marginals(mine.attention_mask != 0, torch.float32)
        b = uniform_marginals(target.attention_mask != 0, torch.float32)
        balanced = sinkhorn_log(cost, a, b, epsilon=0.05, max_iter=500, tol=1e-6)
        relaxed = sinkhorn_log(cost, a, b, epsilon=0.05, max_iter=500, tol=1e-6, tau=0.1)
    assert torch.allclose(balanced.plan.sum(dim=(1, 2)), torch.ones(2), atol=1e-4)
    assert bool((relaxed.plan.sum(dim=(1, 2)) < balanced.plan.sum(dim=(1, 2))).all())


def test_distillation_across_tokenisers_runs_and_validates(
    prepared_dir: Path, tiny_model_dir: Path, tiny_unigram_model_dir: Path, tmp_path: Path
) -> None:
    from clir_calib.distill import distill

    cfg = load_config(None, [
        f"data.prepared={prepared_dir}", f"models.teacher.name={tiny_model_dir}",
        f"models.student.name={tiny_unigram_model_dir}", "distill.max_pairs=16", "distill.batch_size=8",
        "distill.val_pairs=16", "distill.eval_every=1", "distill.save_every=10", "distill.lr=1e-3", "device=cpu",
        "distill.losses=[{name: ot, params: {drop_special_tokens: true}}]", "distill.select=best",
    ])
    result = distill(cfg, tmp_path / "student")
    assert result.steps == 2 and 0.0 <= result.val_accuracy_before <= 1.0 and 0.0 <= result.val_accuracy_after <= 1.0
    saved = Encoder.from_pretrained(tmp_path / "student", device="cpu")
    assert saved.tokenizer.convert_ids_to_tokens(saved.tokenize(["a"])["input_ids"][0])[0] == "<s>"


def test_align_draws_wordpieces_against_sentencepieces(pair: tuple[Encoder, Encoder], tmp_path: Path) -> None:
    from clir_calib.alignment import plot_alignment

    teacher, student = pair
    plan = align_pair(teacher, student, SENTENCES_EN[0], SENTENCES_DE[0])
    assert plan.english_tokens[0] == "[CLS]" and plan.translation_tokens[0] == "<s>"
    assert plan.plan.shape == (len(plan.translation_tokens), len(plan.english_tokens))
    assert np.isclose(plan.plan.sum(), 1.0, atol=1e-4)
    path = plot_alignment(plan, tmp_path / "plan.png", title="mixed")
    assert Path(path).read_bytes()[:4] == b"\x89PNG"


def test_align_uses_the_loss_settings_specials_dropped_and_unbalanced(pair: tuple[Encoder, Encoder]) -> None:
    teacher, student = pair
    plan = align_pair(teacher, student, SENTENCES_EN[0], SENTENCES_DE[0], drop_special_tokens=True)
    specials = {"[CLS]", "[SEP]", "<s>", "</s>"}
    assert not specials & set(plan.english_tokens) and not specials & set(plan.translation_tokens)
    assert plan.plan.shape == (len(plan.translation_tokens), len(plan.english_tokens))
    assert np.isclose(plan.plan.sum(), 1.0, atol=1e-4)
    relaxed = align_pair(teacher, student, SENTENCES_EN[0], SENTENCES_DE[0], drop_special_tokens=True, tau=0.1)
    assert relaxed.tau == 0.1 and relaxed.plan.sum() < plan.plan.sum() - 1e-3


@pytest.mark.parametrize("bad", [{"epsilon": 0.0}, {"epsilon": float("nan")}, {"tau": -1.0}, {"tau": float("inf")}])
def test_align_refuses_bad_numbers_with_a_data_error(pair: tuple[Encoder, Encoder], bad: dict[str, float]) -> None:
    from clir_calib.errors import DataError

    teacher, student = pair
    with pytest.raises(DataError, match="finite number > 0"):
        align_pair(teacher, student, SENTENCES_EN[0], SENTENCES_DE[0], **bad)


def test_embedding_cache_keys_differ_per_encoder_and_role(pair: tuple[Encoder, Encoder], tmp_path: Path) -> None:
    from clir_calib.retrieval.index import encode_cached

    teacher, student = pair
    ids, texts = ["1", "2"], SENTENCES_EN
    folders = set()
    for encoder in (teacher, student):
        for role in ("query", "passage"):
            entry = encode_cached(encoder, ids, texts, role=role, root=tmp_path, task="t", lang="de", split="val")
            again = encode_cached(encoder, ids, texts, role=role, root=tmp_path, task="t", lang="de", split="val")
            assert again.reused and np.array_equal(again.embeddings, entry.embeddings)
            folders.add(entry.path)
    assert len(folders) == 4


def test_the_students_passage_prefix_can_be_left_out_of_the_plan(tiny_model_dir: Path,
                                                                 tiny_unigram_model_dir: Path) -> None:
    """E5's "passage: " has no counterpart in an English teacher without prefixes: drop_prefix_tokens gives it no
    mass, in the loss and in the alignment picture, and the loss no longer depends on the prefix's states."""
    teacher = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    student = Encoder.from_pretrained(tiny_unigram_model_dir, device="cpu", passage_prefix="passage: ")
    with torch.no_grad():
        target = teacher.encode_batch(SENTENCES_EN, "passage")
        mine = student.encode_batch(SENTENCES_DE, "passage")
    assert target.prefix_tokens_mask is not None and int(target.prefix_tokens_mask.sum()) == 0  # no prefix
    assert mine.prefix_tokens_mask is not None
    pieces = student.tokenizer.convert_ids_to_tokens(student.tokenize(SENTENCES_DE)["input_ids"][0])
    flagged = [p for p, f in zip(pieces, mine.prefix_tokens_mask[0].tolist(), strict=True) if f]
    assert "".join(flagged).replace("▁", "") == "passage:" and "▁ein" not in flagged
    kept = transport_mask(mine, True, drop_prefix_tokens=True)
    assert not bool((kept & mine.prefix_tokens_mask.bool()).any())
    loss = OTAlignmentLoss(drop_special_tokens=True, drop_prefix_tokens=True, max_iter=500)
    before = float(loss(mine, target))
    moved = mine.token_states.clone()
    moved[mine.prefix_tokens_mask.bool()] = 40.0  # the prefix's states must no longer matter
    shifted = type(mine)(moved, mine.attention_mask, mine.pooled, mine.special_tokens_mask,
                         prefix_tokens_mask=mine.prefix_tokens_mask)
    assert float(loss(shifted, target)) == pytest.approx(before, abs=1e-6)
    with_prefix = OTAlignmentLoss(drop_special_tokens=True, max_iter=500)
    assert float(with_prefix(shifted, target)) != pytest.approx(float(with_prefix(mine, target)), abs=1e-3)
    plan = align_pair(teacher, student, SENTENCES_EN[0], SENTENCES_DE[0], drop_special_tokens=True,
                      drop_prefix_tokens=True)
    assert "".join(plan.translation_tokens).replace("▁", "").startswith("ein")
    assert np.isclose(plan.plan.sum(), 1.0, atol=1e-4)


def test_the_teacher_store_keeps_the_prefix_tokens(tiny_unigram_model_dir: Path, tmp_path: Path) -> None:
    from clir_calib.distill.teacher_store import TeacherStore

    teacher = Encoder.from_pretrained(tiny_unigram_model_dir, device="cpu", passage_prefix="passage: ")
    store = TeacherStore(tmp_path, teacher, "passage")
    store.ensure(SENTENCES_DE, batch_size=1)
    stored = store.batch(SENTENCES_DE)
    with torch.no_grad():
        direct = teacher.encode_batch(SENTENCES_DE, "passage")
    for name in ("attention_mask", "special_tokens_mask", "prefix_tokens_mask"):
        assert torch.equal(getattr(stored, name), getattr(direct, name)), name
