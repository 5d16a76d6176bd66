"""What determines an encoder's outputs: a content hash of its model folder and its settings.

Shared by the embedding cache (:mod:`clir_calib.retrieval.index`) and the teacher store
(:mod:`clir_calib.distill.teacher_store`), so both key their entries the same way.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from clir_calib.errors import ModelError
from clir_calib.hashing import sha256_file

#: top-level files of a model folder that determine its outputs (training logs and checkpoints do not)
MODEL_FILE_PATTERNS = ("*.safetensors", "*.bin", "config.json", "tokenizer*.json", "*.model", "vocab*",
                       "special_tokens_map.json", "sentencepiece*")


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """Cached per (path, size, mtime): unchanged model files are hashed once per process."""
    return sha256_file(path)


def model_hash(folder: Path) -> str:
    """SHA-256 over the weights, config and tokenizer files of a model folder (names and contents)."""
    if folder is None or not folder.is_dir():
        raise ModelError(f"model folder {folder} not found; cannot fingerprint the encoder for the index cache")
    files = sorted({p for pattern in MODEL_FILE_PATTERNS for p in folder.glob(pattern) if p.is_file()})
    if not files:
        raise ModelError(f"{folder} holds no model files (config.json, *.safetensors); pass a model folder")
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(file.name.encode())
        digest.update(_file_digest(str(file), stat.st_size, stat.st_mtime_ns).encode())
    return digest.hexdigest()


def encoder_fingerprint(encoder: Any) -> dict[str, Any]:
    """What determines an encoder's vectors: model identity and content hash, and its settings."""
    settings = asdict(encoder.settings)
    settings.pop("batch_size", None)
    return {
        "model": str(encoder.name),
        "model_folder": str(encoder.folder),
        "model_hash": model_hash(Path(encoder.folder)),
        **settings,
    }
