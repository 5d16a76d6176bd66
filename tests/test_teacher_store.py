"""The teacher store: a second distillation on the same bitext runs no teacher forward pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from clir_calib.config import load_config
from clir_calib.distill import distill, trainer
from clir_calib.distill.teacher_store import TeacherStore
from clir_calib.models.encoder import Encoder

FAST = ["distill.batch_size=8", "distill.max_pairs=24", "distill.epochs=2", "distill.eval_every=3",
        "distill.save_every=3", "distill.val_pairs=16", "models.teacher.max_length=24",
        "models.student.max_length=24", "device=cpu"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see conftest.py


class TeacherCalls:
    """Forward passes of the teacher's model, one count per run (the encoder loaded from ``teacher``)."""

    def __init__(self) -> None:
        self.teacher = ""
        self.counts: list[int] = []


@pytest.fixture
def teacher_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[TeacherCalls]:
    calls = TeacherCalls()
    original = Encoder.load.__func__  # type: ignore[attr-defined]

    def load(cls, cfg, *args, **kwargs):  # type: ignore[no-untyped-def]
        encoder = original(cls, cfg, *args, **kwargs)
        if cfg.name == calls.teacher:
            calls.counts.append(0)
            slot = len(calls.counts) - 1

            def hook(*_: object) -> None:
                calls.counts[slot] += 1

            encoder.model.register_forward_hook(hook)
        return encoder

    monkeypatch.setattr(trainer.Encoder, "load", classmethod(load))
    yield calls


def test_second_run_with_another_loss_and_seed_runs_no_teacher_pass(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path, teacher_calls: TeacherCalls
) -> None:
    teacher_dir = tmp_path / "teacher"
    import shutil

    shutil.copytree(tiny_model_dir, teacher_dir)  # a separate folder, so the hook knows which encoder it is
    teacher_calls.teacher = str(teacher_dir)
    base = [f"data.prepared={prepared_dir}", f"models.teacher.name={teacher_dir}",
            f"models.student.name={tiny_model_dir}", f"distill.teacher_cache={tmp_path / 'store'}", *FAST]
    first = distill(load_config(None, [*base, "distill.losses=[ot]", "seed=1"]), tmp_path / "ot")
    assert teacher_calls.counts[0] > 0  # the store was filled: 24 train + 16 val sentences
    second = distill(load_config(None, [*base, "distill.losses=[mse]", "seed=2"]), tmp_path / "mse")
    assert teacher_calls.counts[1] == 0  # every teacher output came from the store
    assert first.steps == second.steps == 6
    # a larger data size encodes only the sentences it adds
    store_root = tmp_path / "store"
    shards = sorted(p.name for p in store_root.glob("*/passage-*/shard-*"))
    distill(load_config(None, [*base, "distill.losses=[mse]", "distill.max_pairs=32"]), tmp_path / "more")
    assert teacher_calls.counts[2] > 0
    grown = sorted(p.name for p in store_root.glob("*/passage-*/shard-*"))
    assert len(grown) == len(shards) + 1


def test_stored_outputs_match_the_teacher(tiny_model_dir: Path, tmp_path: Path) -> None:
    teacher = Encoder.from_pretrained(tiny_model_dir, device="cpu", max_length=24)
    texts = ["a dog runs on the beach", "two men", "a woman in a red coat rides a bicycle down the street"]
    store = TeacherStore(tmp_path, teacher, "passage")
    store.ensure(texts)
    assert store.encoded == 3
    teacher.model.eval()
    with torch.no_grad():
        direct = teacher.encode_batch(texts, "passage")
    stored = store.batch(texts)
    assert torch.equal(stored.attention_mask, direct.attention_mask.cpu())
    assert torch.equal(stored.special_tokens_mask, direct.special_tokens_mask.cpu())
    assert torch.allclose(stored.pooled, direct.pooled, atol=1e-5)
    real = direct.attention_mask.bool()
    assert torch.allclose(stored.token_states[real], direct.token_states[real], atol=2e-3, rtol=2e-3)  # float16
    again = TeacherStore(tmp_path, teacher, "passage")
    again.ensure(texts[::-1])
    assert again.encoded == 0
    assert torch.allclose(again.pooled(["two men"]), direct.pooled[1:2], atol=1e-5)


def test_runs_from_the_same_model_share_their_step_0_validation(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every method and seed starts from the same student: with a shared cache, the validation before the first step
    is encoded once, and a run without the cache measures the same val accuracy at step 0."""
    from clir_calib.distill.logbook import read_log
    from clir_calib.distill.student import Student

    encodes: list[int] = []
    original = Student.encode

    def counted(self: Student, *args: object, **kwargs: object) -> torch.Tensor:
        encodes.append(1)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Student, "encode", counted)
    base = [f"data.prepared={prepared_dir}", f"models.teacher.name={tiny_model_dir}",
            f"models.student.name={tiny_model_dir}", *FAST]
    shared = [*base, f"distill.teacher_cache={tmp_path / 'store'}"]

    def step_0(out: Path) -> float:
        return next(r["val_accuracy"] for r in read_log(out / "log.jsonl") if r.get("step") == 0 and "val_accuracy" in r)

    distill(load_config(None, [*shared, "distill.losses=[ot]", "seed=1"]), tmp_path / "ot")
    first = len(encodes)
    assert first == 3  # steps 0, 3 and 6
    distill(load_config(None, [*shared, "distill.losses=[mse]", "seed=2"]), tmp_path / "mse")
    assert len(encodes) - first == 2  # steps 3 and 6: step 0 came from the cache
    assert list((tmp_path / "store" / "student-start").rglob("embeddings.npy"))
    distill(load_config(None, [*base, "distill.losses=[mse]", "seed=2"]), tmp_path / "alone")
    assert len(encodes) - first == 5  # no shared cache: every check encodes
    assert step_0(tmp_path / "mse") == step_0(tmp_path / "alone") == step_0(tmp_path / "ot")
