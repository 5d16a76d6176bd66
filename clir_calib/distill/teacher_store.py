"""The frozen teacher's outputs, computed once and reused by every method, seed, epoch and data size.

The teacher never changes during distillation, yet a training loop would run it over the same
English sentences at every step of every run. The store keeps, per sentence, what the losses and
the validation need: token states (float16, ragged), the special- and prefix-token masks and the pooled vector
(float32). It is content-addressed: a folder per (teacher model hash, encoder settings, role,
precision) holds shards, each written atomically, each a set of memory-mapped arrays with the
SHA-256 of every sentence it holds. A request encodes only the sentences no shard has yet, so a
run on 2,000 pairs reuses what a run on 500 pairs stored. One writer at a time (``filelock``);
readers see only complete shards.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clir_calib.atomic import atomic_dir, write_json
from clir_calib.errors import DataError
from clir_calib.hashing import sha256_file
from clir_calib.models.batch import EncodedBatch
from clir_calib.models.fingerprint import encoder_fingerprint

FORMAT = "clir-calib-teacher-store"
VERSION = 2  # 2: "special" holds bit 1 = special token, bit 2 = a token of the role's text prefix
SHARD_FILES = ("states.npy", "offsets.npy", "special.npy", "pooled.npy", "keys.json")
PRIVATE_FOLDER = ".teacher-cache"  # in a run's folder when no shared cache is configured
DIGEST_FILE = "sha256.json"  # each shard file's sha256, written with the shard and checked when it is read


def _check_digests(shard: Path) -> None:
    """A shard is used only if its files are what was written (a shard from before digests is read as is)."""
    path = shard / DIGEST_FILE
    if not path.is_file():
        return
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError(f"teacher store shard {shard} has an unreadable {DIGEST_FILE}; delete the shard") from None
    for name in SHARD_FILES:
        if recorded.get(name) != sha256_file(shard / name):
            raise DataError(f"teacher store shard {shard}: {name} changed since it was written; delete the shard "
                            "(it is recomputed on the next run)")


def _token_flags(batch: EncodedBatch) -> torch.Tensor:
    """Per token: 1 for a special token, 2 for a token of the text prefix (both stored in one byte)."""
    flags = torch.zeros_like(batch.attention_mask, device="cpu")
    if batch.special_tokens_mask is not None:
        flags |= batch.special_tokens_mask.cpu().long()
    if batch.prefix_tokens_mask is not None:
        flags |= batch.prefix_tokens_mask.cpu().long() << 1
    return flags


def store_root(teacher_cache: str | None, out: Path) -> Path:
    """The shared ``distill.teacher_cache``, else the run's own folder (never the system's temp: a kill leaks it)."""
    return Path(teacher_cache).expanduser() if teacher_cache else out / PRIVATE_FOLDER


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TeacherStore:
    """Teacher outputs for one role, read from (and added to) a folder under ``root``.

    :param root: the cache folder: ``distill.teacher_cache`` when runs share one, else the run's own
        ``PRIVATE_FOLDER`` (kept across a kill so that a resume reuses it, removed when the run ends)
    :param precision: a label of the autocast in force (part of the key: bf16 changes the numbers)
    :param autocast: makes the autocast context the teacher runs under (as in training)
    """

    def __init__(self, root: str | Path, teacher: Any, role: str, precision: str = "no",
                 autocast: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self.teacher, self.role = teacher, role
        self._autocast = autocast
        base = Path(root)
        fingerprint = {k: v for k, v in encoder_fingerprint(teacher).items() if k != "model_folder"}
        key_data = {"format": FORMAT, "version": VERSION, "fingerprint": fingerprint, "role": role,
                    "precision": precision}
        key = hashlib.sha256(json.dumps(key_data, sort_keys=True, default=str).encode()).hexdigest()[:20]
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(fingerprint["model"]).rstrip("/").split("/")[-1])[:60]
        self.folder = base / f"{slug}-{str(fingerprint['model_hash'])[:8]}" / f"{role}-{key}"
        self.key_data = key_data
        self._index: dict[str, tuple[int, int]] = {}
        self._shards: list[dict[str, np.ndarray]] = []
        self.encoded = 0  # sentences this object ran the teacher on (0 when everything was stored)
        self._verified: set[str] = set()  # shards whose digests were checked (ensure() reloads the index)

    # ---------------------------------------------------------------- reading
    def _load_shards(self) -> None:
        self._index.clear()
        self._shards.clear()
        if not self.folder.is_dir():
            return
        for shard in sorted(p for p in self.folder.iterdir() if p.is_dir() and p.name.startswith("shard-")):
            if not all((shard / name).is_file() for name in SHARD_FILES):
                continue  # not a complete shard (atomic_dir makes this rare: a foreign folder)
            if shard.name not in self._verified:
                _check_digests(shard)
                self._verified.add(shard.name)
            try:
                keys = json.loads((shard / "keys.json").read_text(encoding="utf-8"))
                arrays = {name[:-4]: np.load(shard / name, mmap_mode="r", allow_pickle=False)
                          for name in SHARD_FILES if name.endswith(".npy")}
            except (ValueError, OSError) as error:
                raise DataError(f"teacher store shard {shard} is damaged ({type(error).__name__}); delete it") from None
            if len(keys) != arrays["pooled"].shape[0] or arrays["offsets"].shape[0] != len(keys) + 1:
                raise DataError(f"teacher store shard {shard} is inconsistent; delete it")
            number = len(self._shards)
            self._shards.append(arrays)
            for row, key in enumerate(keys):
                self._index.setdefault(key, (number, row))

    def ensure(self, texts: Sequence[str], batch_size: int = 64) -> None:
        """Make sure every text is stored: encode those that no shard holds, as one new shard."""
        from filelock import FileLock

        self._load_shards()
        missing = list(dict.fromkeys(t for t in texts if text_key(t) not in self._index))
        if not missing:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.folder / ".lock")):
            self._load_shards()  # another process may have stored them meanwhile
            missing = list(dict.fromkeys(t for t in texts if text_key(t) not in self._index))
            if missing:
                self._write_shard(missing, batch_size)
                self._load_shards()

    def _write_shard(self, texts: list[str], batch_size: int) -> None:
        lengths = [len(ids) for ids in self.teacher.tokenizer(
            self.teacher._prefixed(texts, self.role), truncation=True, max_length=self.teacher.max_length,
            return_attention_mask=False, return_token_type_ids=False)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        per_text: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(texts)
        autocast = self._autocast() if self._autocast else nullcontext()
        with self.teacher.eval_mode(), torch.inference_mode(), autocast:
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                batch = self.teacher.encode_batch([texts[i] for i in chunk], self.role)
                mask = batch.attention_mask.bool().cpu()
                states = batch.token_states.float().cpu()
                special = _token_flags(batch)
                for j, i in enumerate(chunk):
                    real = mask[j]
                    per_text[i] = (
                        states[j][real].numpy().astype(np.float16),
                        special[j][real].numpy().astype(np.uint8),
                        batch.pooled[j].float().cpu().numpy(),
                    )
        self.encoded += len(texts)
        parts = [p for p in per_text if p is not None]
        offsets = np.concatenate([[0], np.cumsum([p[0].shape[0] for p in parts])]).astype(np.int64)
        digest = hashlib.sha256("".join(text_key(t) for t in texts).encode()).hexdigest()[:16]
        with atomic_dir(self.folder / f"shard-{len(self._shards):05d}-{digest}") as tmp:
            np.save(tmp / "states.npy", np.concatenate([p[0] for p in parts]))
            np.save(tmp / "special.npy", np.concatenate([p[1] for p in parts]))
            np.save(tmp / "pooled.npy", np.stack([p[2] for p in parts]).astype(np.float32))
            np.save(tmp / "offsets.npy", offsets)
            write_json(tmp / "keys.json", [text_key(t) for t in texts])
            write_json(tmp / DIGEST_FILE, {name: sha256_file(tmp / name) for name in SHARD_FILES})
        write_json(self.folder / "store.json", self.key_data)

    # ---------------------------------------------------------------- serving
    def _locate(self, text: str) -> tuple[dict[str, np.ndarray], int]:
        where = self._index.get(text_key(text))
        if where is None:
            raise DataError("a sentence is missing from the teacher store; call ensure() with every text first")
        return self._shards[where[0]], where[1]

    def pooled(self, texts: Sequence[str]) -> torch.Tensor:
        """Pooled teacher vectors ``[N, d]`` (float32, CPU), as ``Encoder.encode`` returns them."""
        rows = [self._locate(t) for t in texts]
        return torch.from_numpy(np.stack([shard["pooled"][row] for shard, row in rows]).astype(np.float32))

    def batch(self, texts: Sequence[str], device: torch.device | str = "cpu") -> EncodedBatch:
        """The teacher's :class:`EncodedBatch` for ``texts``, right-padded to the longest."""
        rows = [self._locate(t) for t in texts]
        spans = [(shard, int(shard["offsets"][row]), int(shard["offsets"][row + 1]), row) for shard, row in rows]
        longest = max(end - start for _, start, end, _ in spans)
        width = spans[0][0]["states"].shape[1]
        states = np.zeros((len(texts), longest, width), dtype=np.float32)
        mask = np.zeros((len(texts), longest), dtype=np.int64)
        special = np.zeros((len(texts), longest), dtype=np.int64)
        for i, (shard, start, end, _) in enumerate(spans):
            states[i, : end - start] = shard["states"][start:end]
            mask[i, : end - start] = 1
            special[i, : end - start] = shard["special"][start:end]
        pooled = np.stack([shard["pooled"][row] for shard, _, _, row in spans]).astype(np.float32)
        return EncodedBatch(torch.from_numpy(states).to(device), torch.from_numpy(mask).to(device),
                            torch.from_numpy(pooled).to(device), torch.from_numpy(special & 1).to(device),
                            prefix_tokens_mask=torch.from_numpy((special >> 1) & 1).to(device))
