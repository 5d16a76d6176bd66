"""The embedding cache: unchanged inputs are read back, anything that changes the vectors is re-encoded."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from clir_calib.errors import DataError, ModelError
from clir_calib.models.encoder import Encoder
from clir_calib.retrieval.index import encode_cached, model_hash


class CountingEncoder:
    """Wraps a real encoder and counts how many texts it was asked to encode."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.encoded = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def encode(self, texts, role="passage", batch_size=None, progress=False) -> torch.Tensor:
        self.encoded += len(texts)
        return self.inner.encode(texts, role=role, batch_size=batch_size, progress=progress)


@pytest.fixture
def encoder(tiny_model_dir: Path, tmp_path: Path) -> CountingEncoder:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    return CountingEncoder(Encoder.from_pretrained(folder, device="cpu"))


IDS = ["d1", "d2", "d3"]
TEXTS = ["a dog in the water", "two children playing", "ein hund"]


def _encode(encoder, root: Path, texts=TEXTS, role="passage", **kw):
    return encode_cached(encoder, IDS, list(texts), role, root, "translation", "val", "de", **kw)


def test_second_call_reads_the_cache(encoder: CountingEncoder, tmp_path: Path) -> None:
    first = _encode(encoder, tmp_path / "idx")
    second = _encode(encoder, tmp_path / "idx")
    assert encoder.encoded == 3 and not first.reused and second.reused
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    manifest = json.loads((second.path / "manifest.json").read_text())
    for key in ("model", "model_hash", "task", "lang", "split", "role", "pooling", "query_prefix", "passage_prefix"):
        assert key in manifest
    assert manifest["task"] == "translation" and manifest["count"] == 3 and manifest["dim"] == 32
    expected = encoder.inner.encode(TEXTS, role="passage").numpy()
    np.testing.assert_allclose(second.embeddings, expected, rtol=1e-5, atol=1e-6)


def test_changed_text_role_setting_or_extra_is_encoded_again(encoder: CountingEncoder, tmp_path: Path) -> None:
    root = tmp_path / "idx"
    base = _encode(encoder, root)
    changed = _encode(encoder, root, texts=[*TEXTS[:2], "ein anderer hund"])
    query = _encode(encoder, root, role="query")
    baseline = _encode(encoder, root, extra={"baseline": "upper"})
    assert encoder.encoded == 12
    assert len({base.path, changed.path, query.path, baseline.path}) == 4
    encoder.inner.settings = dataclasses.replace(encoder.inner.settings, pooling="cls")
    _encode(encoder, root)
    assert encoder.encoded == 15


def test_changed_weights_change_the_hash_and_the_entry(encoder: CountingEncoder, tmp_path: Path) -> None:
    folder = Path(encoder.inner.folder)
    before = model_hash(folder)
    _encode(encoder, tmp_path / "idx")
    with open(folder / "config.json", "a", encoding="utf-8") as handle:
        handle.write("\n")
    assert model_hash(folder) != before
    _encode(encoder, tmp_path / "idx")
    assert encoder.encoded == 6


def test_corrupt_entry_is_rebuilt(encoder: CountingEncoder, tmp_path: Path) -> None:
    entry = _encode(encoder, tmp_path / "idx")
    np.save(entry.path / "embeddings.npy", np.zeros((2, 32), dtype=np.float32))
    again = _encode(encoder, tmp_path / "idx")
    assert not again.reused and again.embeddings.shape == (3, 32) and encoder.encoded == 6


def test_errors(encoder: CountingEncoder, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="aligned"):
        encode_cached(encoder, ["a"], ["x", "y"], "passage", tmp_path, "translation", "val", "de")
    with pytest.raises(DataError, match="nothing to encode"):
        encode_cached(encoder, [], [], "passage", tmp_path, "translation", "val", "de")
    with pytest.raises(ModelError):
        model_hash(tmp_path / "missing")


def test_an_entry_of_another_task_with_the_same_texts_is_reused(tiny_model_dir, tmp_path):
    from clir_calib.models.encoder import Encoder

    encoder = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    ids, texts = ["a", "b"], ["ein hund", "eine frau"]
    first = encode_cached(encoder, ids, texts, role="passage", root=tmp_path, task="translation", split="val", lang="de")
    second = encode_cached(encoder, ids, texts, role="passage", root=tmp_path, task="description", split="val", lang="de")
    assert not first.reused and second.reused and second.path == first.path
    other = encode_cached(encoder, ids, ["ein hund", "ein mann"], role="passage", root=tmp_path, task="description",
                          split="val", lang="de")
    assert not other.reused  # other texts: encoded
