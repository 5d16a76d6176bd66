"""A student distilled into a wider teacher carries a projection; Encoder applies it everywhere."""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from clir_calib.errors import ModelError
from clir_calib.models.encoder import PROJECTION_FILE, Encoder


@pytest.fixture
def projected_folder(tiny_model_dir, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(tiny_model_dir, folder)
    torch.manual_seed(0)
    save_file({"weight": torch.randn(48, 32), "bias": torch.randn(48)}, str(folder / PROJECTION_FILE))
    return folder


def test_projection_maps_into_the_teacher_width(projected_folder, tiny_model_dir):
    projected = Encoder.from_pretrained(projected_folder, device="cpu")
    plain = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    texts = ["a dog runs", "ein hund läuft auf der straße"]
    vectors = projected.encode(texts)
    assert vectors.shape == (2, 48) and projected.output_size == 48 and projected.hidden_size == 32
    # mean pooling commutes with the affine map: normalize(W mean(h) + b)
    batch = plain.tokenize(texts)
    with torch.inference_mode():
        states = plain.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (states * mask).sum(1) / mask.sum(1)
    expected = F.normalize(mean @ projected.projection.weight.T + projected.projection.bias, dim=-1)
    torch.testing.assert_close(vectors, expected, atol=1e-5, rtol=1e-4)
    with torch.inference_mode():
        assert projected.encode_batch(texts).token_states.shape[-1] == 48


def test_projection_survives_save_and_load(projected_folder, tmp_path):
    encoder = Encoder.from_pretrained(projected_folder, device="cpu")
    encoder.save(tmp_path / "copy")
    again = Encoder.from_pretrained(tmp_path / "copy", device="cpu")
    torch.testing.assert_close(encoder.encode(["two dogs"]), again.encode(["two dogs"]))


def test_broken_projection_is_a_clear_error(tiny_model_dir, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(tiny_model_dir, folder)
    save_file({"weight": torch.randn(48, 31)}, str(folder / PROJECTION_FILE))
    with pytest.raises(ModelError, match="projection"):
        Encoder.from_pretrained(folder, device="cpu")
