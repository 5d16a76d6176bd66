"""distill.train_top_layers: the top K layers trained from cached lower states compute what the full model does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from clir_calib.distill.student import Student
from clir_calib.errors import ConfigError
from clir_calib.losses.mse import MSEAlignmentLoss
from clir_calib.losses.ot import OTAlignmentLoss
from clir_calib.models import Encoder
from tests.fixtures_models import make_tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

XX = ["ein hund läuft", "zwei kinder spielen im park am see", "eine frau", "ein mann fährt rad"]
EN = ["a dog runs", "two children play in the park by the lake", "a woman", "a man rides a bike"]


@pytest.fixture(scope="module")
def four_layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("four-layers") / "model", layers=4, seed=5)


def _student(folder: Path, top: int | None, prefix: str = "passage: ") -> Student:
    torch.manual_seed(0)
    encoder = Encoder.from_pretrained(folder, device="cpu", passage_prefix=prefix)
    student = Student(encoder, encoder.hidden_size, projection=False, freeze_embeddings=True, top_layers=top)
    student.encoder.model.eval()  # dropout off: the cached path runs the frozen layers without it
    return student


def _loss_and_grads(student: Student, teacher_batch, loss) -> tuple[float, dict[str, torch.Tensor]]:  # type: ignore[no-untyped-def]
    mine = student.encode_batch(XX, "passage")
    value = loss(mine, teacher_batch)
    value.backward()
    grads = {name: p.grad.clone() for name, p in student.trainable_state().items() if p.grad is not None}
    return float(value.detach()), grads


@pytest.mark.parametrize("top", [1, 2, 4])
@pytest.mark.parametrize("loss", [OTAlignmentLoss(drop_special_tokens=True), MSEAlignmentLoss()], ids=["ot", "mse"])
def test_the_cached_path_gives_the_full_models_loss_and_gradients(four_layer_dir: Path, tiny_model_dir: Path,
                                                                  top: int, loss) -> None:  # type: ignore[no-untyped-def]
    teacher = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    with torch.no_grad():
        target = teacher.encode_batch(EN, "passage")
    full = _student(four_layer_dir, top)
    cached = _student(four_layer_dir, top)
    cached.use_lower_cache("passage").ensure(XX, batch_size=3)  # another batching than the step's
    assert set(full.trainable_state()) == set(cached.trainable_state())
    trained = {name.split(".")[2] for name in full.trainable_state()}
    assert trained == {str(i) for i in range(4 - top, 4)}  # encoder.layer.<i>.…: only the top layers train
    full_loss, full_grads = _loss_and_grads(full, target, loss)
    cached_loss, cached_grads = _loss_and_grads(cached, target, loss)
    assert cached_loss == pytest.approx(full_loss, rel=1e-5, abs=1e-7)
    assert set(full_grads) == set(cached_grads) and full_grads
    for name, grad in full_grads.items():
        torch.testing.assert_close(cached_grads[name], grad, rtol=1e-4, atol=1e-6)


def test_validation_from_the_cache_equals_the_encoders_own_encoding(four_layer_dir: Path) -> None:
    student = _student(four_layer_dir, 2)
    full = student.encoder.encode(XX, role="passage", batch_size=2)
    student.use_lower_cache("passage")
    cached = student.encode(XX, "passage", batch_size=3)
    torch.testing.assert_close(cached, full, rtol=1e-5, atol=1e-6)


def test_the_cache_keeps_the_token_masks(four_layer_dir: Path) -> None:
    student = _student(four_layer_dir, 1)
    full = student.encoder.encode_batch(XX, "passage")
    student.use_lower_cache("passage").ensure(XX, batch_size=4)
    cached = student.encode_batch(XX, "passage")
    for name in ("attention_mask", "special_tokens_mask", "prefix_tokens_mask"):
        assert torch.equal(getattr(cached, name), getattr(full, name)), name
    assert int(full.prefix_tokens_mask.sum()) == 2 * len(XX)  # "passage" ":" in every text


def test_a_top_layer_count_beyond_the_model_is_one_line(four_layer_dir: Path) -> None:
    with pytest.raises(ConfigError, match="has 4 layers; choose 1 to 4"):
        _student(four_layer_dir, 5)


def test_distill_trains_only_the_top_layer_and_says_so(prepared_dir: Path, tiny_model_dir: Path,
                                                       four_layer_dir: Path, tmp_path: Path) -> None:
    from clir_calib.distill import distill
    from tests.test_distill import tiny_config

    cfg = tiny_config(prepared_dir, tiny_model_dir, four_layer_dir, "distill.train_top_layers=1",
                      "distill.select=last", "distill.freeze_embeddings=false")
    out = tmp_path / "top1"
    result = distill(cfg, out)
    assert result.trained_layers == "top 1 of 4 layers (the 3 below cached, without dropout)"
    assert json.loads((out / "result.json").read_text())["trained_layers"] == result.trained_layers
    assert "top 1 of 4 layers" in (out / "README.md").read_text()
    before, after = load_file(four_layer_dir / "model.safetensors"), load_file(out / "model.safetensors")
    changed = {name.split(".")[2] if name.startswith("encoder.layer.") else name.split(".")[0]
               for name in before if not torch.equal(before[name], after[name])}
    assert changed == {"3"}  # the top layer moved; embeddings (even unfrozen by freeze_embeddings) and layers 0-2 did not
