"""A saved encoder is a sentence-transformers model: same vectors, prompts per role, no warnings."""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from clir_calib.models.encoder import PROJECTION_FILE, Encoder
from clir_calib.models.settings import EncoderSettings
from clir_calib.models.st_export import sentence_transformers_modules

TEXTS = ["a dog runs in the park", "two children play with a ball", "a man"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _load_quietly(folder: Path, caplog: pytest.LogCaptureFixture) -> tuple[object, list[str]]:
    from sentence_transformers import SentenceTransformer

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        model = SentenceTransformer(str(folder), device="cpu")
    messages = [str(w.message) for w in caught if not issubclass(w.category, ResourceWarning | DeprecationWarning)]
    messages += [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return model, messages


def _e5_like_student(tiny_model_dir: Path, folder: Path, projection: bool) -> Encoder:
    encoder = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    encoder.settings.query_prefix, encoder.settings.passage_prefix = "query: ", "passage: "
    if projection:
        scratch = folder.parent / "with-projection"
        shutil.copytree(tiny_model_dir, scratch)
        torch.manual_seed(0)
        save_file({"weight": torch.randn(48, 32), "bias": torch.randn(48)}, str(scratch / PROJECTION_FILE))
        projected = Encoder.from_pretrained(scratch, device="cpu")
        projected.settings = encoder.settings
        encoder = projected
    encoder.save(folder)
    return Encoder.from_pretrained(folder, device="cpu")


@pytest.mark.parametrize("projection", [False, True], ids=["plain", "projection-as-dense"])
def test_sentence_transformers_loads_the_student_and_encodes_the_same(
    tiny_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, projection: bool
) -> None:
    encoder = _e5_like_student(tiny_model_dir, tmp_path / "student", projection)
    model, messages = _load_quietly(tmp_path / "student", caplog)
    assert messages == []  # no "newly initialized", no fallback to a default pooling
    for role in ("passage", "query"):
        ours = encoder.encode(TEXTS, role=role)
        theirs = torch.as_tensor(model.encode(TEXTS, prompt_name=role, convert_to_numpy=True))  # type: ignore[attr-defined]
        cosine = torch.nn.functional.cosine_similarity(ours, theirs, dim=-1)
        assert float(cosine.min()) >= 0.9999, (role, cosine)
        assert theirs.shape[1] == (48 if projection else 32)
    types = [m["type"].rsplit(".", 1)[1] for m in json.loads((tmp_path / "student" / "modules.json").read_text())]
    assert types == (["Transformer", "Pooling", "Dense", "Normalize"] if projection
                     else ["Transformer", "Pooling", "Normalize"])


def test_modules_follow_the_settings() -> None:
    cls = EncoderSettings(pooling="cls", normalize=False)
    assert [m["path"] for m in sentence_transformers_modules(cls, projection=False)] == ["", "1_Pooling"]
    assert [m["path"] for m in sentence_transformers_modules(EncoderSettings(), projection=True)] == [
        "", "1_Pooling", "2_Dense", "3_Normalize"]


def test_cls_pooling_without_normalisation_round_trips(tiny_model_dir: Path, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    encoder = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    encoder.settings.pooling, encoder.settings.normalize = "cls", False
    encoder.save(tmp_path / "cls")
    model, messages = _load_quietly(tmp_path / "cls", caplog)
    assert messages == []
    theirs = torch.as_tensor(model.encode(TEXTS, convert_to_numpy=True))  # type: ignore[attr-defined]
    assert torch.allclose(encoder.encode(TEXTS), theirs, atol=1e-5)
