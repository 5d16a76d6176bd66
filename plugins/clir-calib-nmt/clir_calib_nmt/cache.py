"""On-disk translation cache keyed by model hash + generation settings + input-text hash.

Translating a corpus is the slow part of translate-test; the same captions are translated for
several tasks (translation and description share the caption corpus) and for repeated runs.
One JSON file per (model, settings) maps the SHA-256 of each source text to its translation.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from clir_calib.atomic import write_json
from clir_calib.errors import DataError

_HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".spm", ".vocab", ".pt")
_folder_hashes: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_folder_hash(folder: Path) -> str:
    """SHA-256 over the names and contents of a model folder's weight, config and tokenizer files.

    Memoised per process on (path, size, mtime) so repeated baselines do not re-read weights.
    """
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in _HASHED_SUFFIXES and not _hidden(p, folder)
    )
    if not files:
        raise DataError(f"model folder {folder} holds no model files; point to a Hugging Face model folder")
    stamp = tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    key = (str(folder.resolve()), stamp)
    if key not in _folder_hashes:
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.relative_to(folder)).encode())
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(chunk)
        _folder_hashes[key] = digest.hexdigest()
    return _folder_hashes[key]


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


class TranslationCache:
    """Translations of one model under one set of generation settings."""

    def __init__(self, folder: str | os.PathLike[str], model_hash: str, settings: dict[str, Any]) -> None:
        settings_text = json.dumps(settings, sort_keys=True)
        key = hashlib.sha256(f"{model_hash}\n{settings_text}".encode()).hexdigest()[:24]
        self.model_hash = model_hash
        self.settings = settings
        self.path = Path(folder) / "nmt-translations" / f"{key}.json"
        self._entries: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = {}
            if self.path.is_file():
                try:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                    self._entries = dict(data["translations"])
                except (ValueError, KeyError, TypeError):
                    raise DataError(
                        f"translation cache {self.path} is corrupt; delete it and run again"
                    ) from None
        return self._entries

    def get(self, texts: list[str]) -> dict[str, str]:
        """Cached translations of ``texts`` (by source text) that are present."""
        entries = self._load()
        found = {}
        for text in texts:
            hit = entries.get(text_hash(text))
            if hit is not None:
                found[text] = hit
        return found

    def put(self, translations: dict[str, str]) -> None:
        """Add source -> translation pairs and rewrite the cache file atomically."""
        if not translations:
            return
        entries = self._load()
        self._entries = None  # re-read: another process may have added entries meanwhile
        entries = {**self._load(), **entries}
        entries.update({text_hash(src): out for src, out in translations.items()})
        self._entries = entries
        write_json(
            self.path,
            {"model_hash": self.model_hash, "settings": self.settings, "translations": entries},
        )
