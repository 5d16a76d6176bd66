"""Where the raw Multi30k files come from: a local folder or the official raw files by URL.

A URL source downloads each file once into a cache folder (``~/.cache/clir-calib/multi30k``,
``$CLIR_CALIB_CACHE`` overrides) and records its sha256 in ``checksums.json`` there; later runs
verify cached files against it, and a re-download that differs from the recorded sum is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Protocol

from clir_calib.atomic import atomic_file, write_json
from clir_calib.errors import DataError
from clir_calib.hashing import sha256_file

CACHE_VARIABLE = "CLIR_CALIB_CACHE"
CHECKSUMS_FILE = "checksums.json"
DOWNLOAD_TIMEOUT_S = 60.0


class Multi30kSource(Protocol):
    """Gives a local path for a path relative to the official ``data/`` folder."""

    kind: str  # "local" | "url"
    location: str

    def fetch(self, relative: str) -> Path: ...

    def display(self, relative: str) -> str: ...

    def exists(self, relative: str) -> bool: ...

    def list_dir(self, relative: str) -> list[str] | None:
        """File names in a folder (``.gz`` kept), or None where a source cannot list (a URL)."""
        ...


class MissingRemoteFile(DataError):
    """The server answered that a file does not exist (HTTP 404, or no such file for file://)."""


class LocalSource:
    """A folder in the layout of the official repository; ``x.gz`` may also be given uncompressed as ``x``."""

    kind = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(
                f"Multi30k folder {self.root} not found; pass --source DIR (the official data/ layout) "
                "or set CLIR_CALIB_MULTI30K"
            )
        self.location = str(self.root.resolve())

    def fetch(self, relative: str) -> Path:
        path = self.root / relative
        if path.is_file():
            return path
        plain = path.with_name(path.name.removesuffix(".gz"))
        if relative.endswith(".gz") and plain.is_file():
            return plain
        raise DataError(f"missing file {path}; restore it or restrict with --langs/--splits")

    def exists(self, relative: str) -> bool:
        path = self.root / relative
        return path.is_file() or (relative.endswith(".gz") and path.with_name(path.name[:-3]).is_file())

    def list_dir(self, relative: str) -> list[str] | None:
        folder = self.root / relative
        return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def display(self, relative: str) -> str:
        path = self.root / relative
        if relative.endswith(".gz") and not path.is_file():
            plain = path.with_name(path.name.removesuffix(".gz"))
            if plain.is_file():
                return str(plain)
        return str(path)


LOOPBACK = ("localhost", "127.0.0.1", "::1")


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_VARIABLE)
    return Path(env) if env else Path.home() / ".cache" / "clir-calib" / "multi30k"


class UrlSource:
    """The official raw files under ``base_url`` (e.g. the repository's ``data/`` folder), cached locally."""

    kind = "url"

    def __init__(self, base_url: str, cache_dir: str | os.PathLike[str] | None = None,
                 pinned: dict[str, str] | None = None) -> None:
        if base_url.startswith("http://") and urllib.parse.urlsplit(base_url).hostname not in LOOPBACK:
            raise DataError(f"--url {base_url!r} is plain http, which anyone on the way can alter; use https:// "
                            "(plain http is accepted from this machine only: localhost, 127.0.0.1)")
        if not re.match(r"^(https?|file)://", base_url):
            raise DataError(f"--url {base_url!r} must start with https://, file:// or http://localhost")
        self.location = base_url.rstrip("/")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.location.split("://", 1)[1]).strip("-")[:60]
        key = hashlib.sha256(self.location.encode()).hexdigest()[:10]
        self.folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.folder = self.folder / f"{slug}-{key}"
        self.checksums_path = self.folder / CHECKSUMS_FILE
        self.checksums = self._read_checksums()
        # pinned checksums (data.checksums) win over the recorded ones: first use is verified too, not trusted
        for relative, digest in (pinned or {}).items():
            if self.checksums.get(relative, digest) != digest:
                raise DataError(f"{self.checksums_path} records {relative} as sha256 {self.checksums[relative][:12]}… "
                                f"but data.checksums pins {digest[:12]}…; delete the cached copy to download it again")
            self.checksums[relative] = digest

    def _read_checksums(self) -> dict[str, str]:
        if not self.checksums_path.is_file():
            return {}
        try:
            data = json.loads(self.checksums_path.read_text(encoding="utf-8"))
            files = data["files"]
            return {str(k): str(v) for k, v in files.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DataError(
                f"cache manifest {self.checksums_path} is corrupt; delete it to download the files again"
            ) from None

    def url(self, relative: str) -> str:
        return f"{self.location}/{relative}"

    def exists(self, relative: str) -> bool:
        """Whether the file is there: downloaded (and cached, checksum recorded) when it is."""
        try:
            self.fetch(relative)
        except MissingRemoteFile:
            return False
        return True

    def list_dir(self, relative: str) -> list[str] | None:
        return None

    def display(self, relative: str) -> str:
        return self.url(relative)

    def fetch(self, relative: str) -> Path:
        target = self.folder / relative
        recorded = self.checksums.get(relative)
        if target.is_file() and recorded is not None:
            actual = sha256_file(target)
            if actual != recorded:
                raise DataError(
                    f"cached file {target} has sha256 {actual[:12]}… but {self.checksums_path} recorded "
                    f"{recorded[:12]}…; delete the cached file to download it again"
                )
            return target
        actual = self._download(relative, target)
        if recorded is not None and actual != recorded:
            target.unlink(missing_ok=True)
            raise DataError(
                f"checksum mismatch for {self.url(relative)}: sha256 {actual[:12]}… but {self.checksums_path} "
                f"recorded {recorded[:12]}…; the remote file changed or is corrupt (delete that manifest to accept it)"
            )
        self.checksums[relative] = actual
        write_json(
            self.checksums_path, {"base_url": self.location, "files": dict(sorted(self.checksums.items()))}
        )
        return target

    def _download(self, relative: str, target: Path) -> str:
        url = self.url(relative)
        digest = hashlib.sha256()
        try:
            with (
                urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
                atomic_file(target, "wb") as out,
            ):
                for block in iter(lambda: response.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise MissingRemoteFile(f"{url} does not exist (HTTP 404)") from None
            raise DataError(
                f"cannot download {url}: HTTP {error.code} {error.reason}; check --url (the official data/ folder)"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            if isinstance(reason, FileNotFoundError) or isinstance(error, FileNotFoundError):
                raise MissingRemoteFile(f"{url} does not exist") from None
            raise DataError(f"cannot download {url} ({reason}); check --url and the network") from None
        return digest.hexdigest()


def read_pinned_checksums(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{"files": {relative path: sha256 hex}}`` (the format of the cache's own ``checksums.json``)."""
    file = Path(path)
    try:
        files = json.loads(file.read_text(encoding="utf-8"))["files"]
        pinned = {str(k): str(v).lower() for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise DataError(f"data.checksums {file} is not a readable JSON file with a 'files' mapping "
                        "(path -> sha256); copy the format of a cache's checksums.json") from None
    bad = [k for k, v in pinned.items() if not re.fullmatch(r"[0-9a-f]{64}", v)]
    if bad:
        raise DataError(f"data.checksums {file}: {bad[0]!r} has no 64-digit hex sha256")
    return pinned


def open_source(
    source: str | os.PathLike[str] | None,
    url: str | None,
    cache_dir: str | os.PathLike[str] | None = None,
    pinned: str | os.PathLike[str] | None = None,
) -> Multi30kSource:
    """A local folder, else the URL, else the default folder (``$CLIR_CALIB_MULTI30K`` or ../shared)."""
    from clir_calib.config import default_multi30k_source

    if source is not None and url is not None:
        raise DataError(
            "give either a Multi30k folder (--source / data.source) or a URL (--url / data.url), not both"
        )
    if url is not None:
        return UrlSource(url, cache_dir, pinned=read_pinned_checksums(pinned) if pinned else None)
    if pinned:
        raise DataError("data.checksums pins downloaded files; it needs --url (a local --source is not downloaded)")
    if source is None:
        source = default_multi30k_source()
        if source is None:
            raise DataError(
                "no Multi30k source: pass --source DIR or --url URL, or set CLIR_CALIB_MULTI30K to the data folder"
            )
    return LocalSource(source)
