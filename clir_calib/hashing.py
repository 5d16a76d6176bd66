"""Content hashes of files (input checksums, model fingerprints), read in 1 MiB blocks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_path(path: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(path)}.sha256")


def write_digest(path: str | os.PathLike[str]) -> None:
    """Record ``path``'s sha256 next to it (``PATH.sha256``), for :func:`content_changed`."""
    from clir_calib.atomic import write_text

    write_text(digest_path(path), sha256_file(path) + "\n")


def content_changed(path: str | os.PathLike[str]) -> bool:
    """True when ``PATH.sha256`` exists and no longer matches the file (an output from before digests: False)."""
    recorded = digest_path(path)
    if not recorded.is_file():
        return False
    return recorded.read_text(encoding="utf-8").strip() != sha256_file(path)
