"""An on-disk cache of embeddings, so unchanged inputs are never encoded twice.

Each entry is a folder ``{root}/{model}/{task}/{split}/{lang}/{role}-{key}/`` holding
``embeddings.npy`` (float32 ``[N, d]``), ``ids.json`` and ``manifest.json`` (model, its content
hash, task, language, split, role, pooling, prefixes, normalisation, max length, text hash, and
any document baseline). ``key`` hashes everything that changes the vectors, so a different model,
setting or text gets a new entry and an unchanged one is read back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.atomic import atomic_dir, write_json
from clir_calib.errors import DataError
from clir_calib.models.fingerprint import MODEL_FILE_PATTERNS, encoder_fingerprint, model_hash
from clir_calib.stored import read_json, read_npy

log = logging.getLogger(__name__)

__all__ = ["MODEL_FILE_PATTERNS", "EmbeddingSet", "encode_cached", "encoder_fingerprint", "model_hash"]

FORMAT = "clir-calib-embeddings"
VERSION = 1


@dataclass
class EmbeddingSet:
    """Embeddings of ``ids`` (row i is ``ids[i]``), with the manifest and where they are stored."""

    ids: list[str]
    embeddings: np.ndarray
    manifest: dict[str, Any]
    path: Path
    reused: bool


def texts_hash(ids: list[str], texts: list[str]) -> str:
    digest = hashlib.sha256()
    for doc_id, text in zip(ids, texts, strict=True):
        digest.update(doc_id.encode())
        digest.update(b"\x00")
        digest.update(text.encode())
        digest.update(b"\x01")
    return digest.hexdigest()


def _slug(text: str) -> str:
    tail = text.rstrip("/").split("/")[-1] or "model"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tail)[:60]


def cache_key(fingerprint: dict[str, Any], role: str, text_digest: str, extra: dict[str, Any]) -> str:
    payload = json.dumps(
        {"fingerprint": {k: v for k, v in fingerprint.items() if k != "model_folder"}, "role": role,
         "texts": text_digest, "extra": extra, "version": VERSION},
        sort_keys=True, default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def encode_cached(
    encoder: Any,
    ids: list[str],
    texts: list[str],
    role: str,
    root: str | Path,
    task: str,
    split: str,
    lang: str,
    extra: dict[str, Any] | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> EmbeddingSet:
    """Read the embeddings of ``texts`` from the cache, or encode and store them."""
    if len(ids) != len(texts):
        raise DataError(f"{len(ids)} ids for {len(texts)} texts; they must be aligned")
    if not ids:
        raise DataError(f"nothing to encode for {task}/{lang}/{split} ({role}); the prepared task is empty")
    extra = dict(extra or {})
    fingerprint = encoder_fingerprint(encoder)
    digest = texts_hash(ids, texts)
    key = cache_key(fingerprint, role, digest, extra)
    model_dir = Path(root) / f"{_slug(fingerprint['model'])}-{fingerprint['model_hash'][:8]}"
    folder = model_dir / task / split / lang / f"{role}-{key}"
    cached = _read(folder, key, ids)
    if cached is not None:
        return cached
    # the key covers model, settings, role, ids and texts, not the task: another task's entry with the same key
    # holds the same vectors (Multi30k's fr/cs description corpora are the translation corpora)
    for other in sorted(model_dir.glob(f"*/{split}/{lang}/{role}-{key}")):
        cached = _read(other, key, ids)
        if cached is not None:
            return cached
    started = time.perf_counter()
    vectors = encoder.encode(texts, role=role, batch_size=batch_size, progress=progress)
    matrix = np.ascontiguousarray(vectors.detach().cpu().numpy().astype(np.float32))
    manifest = {
        "format": FORMAT, "version": VERSION, "key": key, "task": task, "lang": lang, "split": split,
        "role": role, "count": len(ids), "dim": int(matrix.shape[1]), "texts_sha256": digest,
        "embeddings_sha256": _matrix_digest(matrix),
        **fingerprint, "extra": extra, "encode_seconds": round(time.perf_counter() - started, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with atomic_dir(folder, overwrite=True) as tmp:
        np.save(tmp / "embeddings.npy", matrix)
        write_json(tmp / "ids.json", list(ids))
        write_json(tmp / "manifest.json", manifest)
    return EmbeddingSet(list(ids), matrix, manifest, folder, reused=False)


def _read(folder: Path, key: str, expected_ids: list[str]) -> EmbeddingSet | None:
    """The stored entry when it is complete, unchanged (its ``SHA256SUMS``) and holds exactly ``expected_ids``
    in their order, under ``key``; None means encode again (a damaged entry with a warning)."""
    if not (folder / "manifest.json").is_file():
        return None
    try:
        manifest = read_json(folder / "manifest.json", "", expect=dict)
        ids = read_json(folder / "ids.json", "", expect=list)
        matrix = read_npy(folder / "embeddings.npy", "")
    except (OSError, DataError) as error:
        log.warning("embedding cache %s fails its content check (%s); encoding again", folder, str(error).rstrip("; "))
        return None
    count = len(expected_ids)
    if manifest.get("key") != key or matrix.shape != (count, manifest.get("dim")):
        return None
    if ids != list(expected_ids):
        log.warning("embedding cache %s holds other ids (or another order) than asked; encoding again", folder)
        return None
    if matrix.dtype != np.float32 or not np.isfinite(matrix).all():
        return None
    if manifest.get("embeddings_sha256") != _matrix_digest(matrix):
        log.warning("embedding cache %s fails its content check (vectors changed since they were written); "
                    "encoding again", folder)
        return None
    return EmbeddingSet(list(ids), matrix, manifest, folder, reused=True)


def _matrix_digest(matrix: np.ndarray) -> str:
    """SHA-256 of the vectors' bytes: a cache entry is used only if it still holds what was written."""
    return hashlib.sha256(np.ascontiguousarray(matrix).tobytes()).hexdigest()
