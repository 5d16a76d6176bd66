"""Read Multi30k text files (gzip or plain) into clean lines, with one-line errors for bad input."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from clir_calib.errors import DataError


@dataclass(frozen=True)
class TextFile:
    """The lines of one input file, where they came from and the sha256 of its bytes."""

    name: str  # shown in messages: a local path or a URL
    lines: list[str]
    sha256: str


def read_input(path: Path, shown: str, missing_hint: str = "") -> bytes:
    """The bytes of an input file; a missing or unreadable one is a one-line :class:`DataError`."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"missing file {shown}{missing_hint}") from None
    except OSError as error:
        raise DataError(f"cannot read {shown} ({error.strerror}); check its permissions") from None


def read_text_file(path: Path, name: str | None = None) -> TextFile:
    """Read ``path`` (``*.gz`` is decompressed): one stripped, non-empty line per caption.

    Tabs inside a line become spaces so that the TREC ``queries.tsv`` stays two columns.
    """
    shown = name or str(path)
    raw = read_input(path, shown, "; restore it or restrict with --langs/--splits")
    data = raw
    if path.name.endswith(".gz"):
        try:
            data = _gunzip_bounded(raw, shown)
        except (OSError, EOFError, zlib.error) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DataError(
                f"{shown} is not a readable gzip file ({reason}); replace or re-download it"
            ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{shown} is not UTF-8 text (byte {error.start}); replace it with the original file"
        ) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    cleaned: list[str] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.replace("\t", " ").strip()
        if not stripped:
            raise DataError(
                f"{shown} line {number} is empty; every line must hold a caption (fix or replace the file)"
            )
        cleaned.append(stripped)
    if not cleaned:
        raise DataError(f"{shown} is empty; replace it with the original file")
    return TextFile(name=shown, lines=cleaned, sha256=hashlib.sha256(raw).hexdigest())


def check_aligned(reference: TextFile, other: TextFile) -> None:
    """Line i of both files must describe the same image, so their line counts must agree."""
    if len(reference.lines) != len(other.lines):
        raise DataError(
            f"line counts differ: {reference.name} has {len(reference.lines)} lines but {other.name} has "
            f"{len(other.lines)}; files of one split must be line-aligned (restore the original files)"
        )


def check_same_images(task1: TextFile, task2: TextFile) -> None:
    """Task-2 descriptions must list the same images in the same order as the task-1 captions."""
    check_aligned(task1, task2)
    for number, (first, second) in enumerate(zip(task1.lines, task2.lines, strict=True), start=1):
        if first != second:
            raise DataError(
                f"{task1.name} and {task2.name} disagree at line {number} ({first} vs {second}); "
                "task-1 and task-2 image splits must list the same images in the same order"
            )


#: Multi30k's largest file is a few MB; a gzip that inflates beyond this is not a caption file (a zip bomb?)
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024


def _gunzip_bounded(raw: bytes, shown: str) -> bytes:
    """Decompress ``raw`` (gzip, possibly several members), refusing output beyond ``MAX_DECOMPRESSED_BYTES``."""
    out = bytearray()
    data = raw
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while data:
            out += inflater.decompress(data, MAX_DECOMPRESSED_BYTES + 1 - len(out))
            if len(out) > MAX_DECOMPRESSED_BYTES:
                raise DataError(f"{shown} inflates to more than {MAX_DECOMPRESSED_BYTES >> 20} MiB; it is not a "
                                "Multi30k caption file: replace it with the original")
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
        if not inflater.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        data = inflater.unused_data
    return bytes(out)
