"""The URL source: downloads into a cache, records sha256 sums, refuses files that do not match them.

Served from the fake Multi30k over ``file://`` and over a local HTTP server on 127.0.0.1 (never the internet).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clir_calib.data import load_task, prepare_multi30k
from clir_calib.data.sources import UrlSource, default_cache_dir
from clir_calib.errors import DataError


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def served(fake_multi30k: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served folder): a private copy of the fake Multi30k behind http://127.0.0.1."""
    folder = Path(shutil.copytree(fake_multi30k, tmp_path / "served"))
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_download_matches_local_prepare(served: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = served
    cache = tmp_path / "cache"
    summary = prepare_multi30k(tmp_path / "from-url", url=url, cache_dir=cache, langs=["de"], splits=["val"])
    prepare_multi30k(tmp_path / "from-dir", source=folder, langs=["de"], splits=["val"])
    for task in ("translation", "description"):
        assert load_task(tmp_path / "from-url", task, "de", "val") == load_task(
            tmp_path / "from-dir", task, "de", "val"
        )
    assert summary.source_kind == "url" and summary.source == url.rstrip("/")
    (checksums,) = cache.glob("*/checksums.json")
    recorded = json.loads(checksums.read_text(encoding="utf-8"))
    assert recorded["base_url"] == url.rstrip("/")
    assert set(recorded["files"]) == set(summary.inputs)
    for relative, digest in recorded["files"].items():
        assert hashlib.sha256((folder / relative).read_bytes()).hexdigest() == digest
        assert (checksums.parent / relative).is_file()
    manifest = json.loads((tmp_path / "from-url/manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"] == {"kind": "url", "location": url.rstrip("/")}
    assert manifest["inputs"] == recorded["files"]


def test_cached_files_are_reused_without_the_server(served: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = served
    cache = tmp_path / "cache"
    prepare_multi30k(tmp_path / "first", url=url, cache_dir=cache, langs=["fr"], splits=["val"])
    shutil.rmtree(folder)  # every request would now be a 404
    prepare_multi30k(tmp_path / "second", url=url, cache_dir=cache, langs=["fr"], splits=["val"])
    assert load_task(tmp_path / "second", "translation", "fr", "val").qrels["val-0"] == {"fr-val-0": 1}


def test_corrupt_cached_file_is_refused(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    cache = tmp_path / "cache"
    prepare_multi30k(tmp_path / "first", url=url, cache_dir=cache, langs=["de"], splits=["val"])
    (cached,) = cache.glob("*/task1/raw/val.de.gz")
    cached.write_bytes(cached.read_bytes()[:-3] + b"xyz")
    with pytest.raises(DataError, match=r"cached file .*val\.de\.gz has sha256 .* delete the cached file"):
        prepare_multi30k(tmp_path / "second", url=url, cache_dir=cache, langs=["de"], splits=["val"])
    assert not (tmp_path / "second").exists()


def test_changed_remote_file_is_a_checksum_mismatch(served: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = served
    cache = tmp_path / "cache"
    prepare_multi30k(tmp_path / "first", url=url, cache_dir=cache, langs=["de"], splits=["val"])
    (cached,) = cache.glob("*/task1/raw/val.en.gz")
    cached.unlink()
    (folder / "task1/raw/val.en.gz").write_bytes((folder / "task1/raw/val.fr.gz").read_bytes())
    with pytest.raises(
        DataError, match=r"checksum mismatch for http://127\.0\.0\.1:\d+/task1/raw/val\.en\.gz"
    ):
        prepare_multi30k(tmp_path / "second", url=url, cache_dir=cache, langs=["de"], splits=["val"])
    assert not cached.exists()  # the refused download is not kept
    assert not (tmp_path / "second").exists()


def test_file_url_and_missing_remote_file(fake_multi30k: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    summary = prepare_multi30k(
        tmp_path / "ok",
        url=fake_multi30k.as_uri(),
        cache_dir=cache,
        langs=["cs"],
        splits=["test_2016_flickr"],
    )
    assert [(t.task, t.queries) for t in summary.tasks] == [("translation", 12), ("description", 60)]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"unknown split 'val': file://.*/empty/task1/raw/val\.en\.gz does not exist"):
        prepare_multi30k(tmp_path / "bad", url=empty.as_uri(), cache_dir=cache, langs=["cs"], splits=["val"])
    assert not (tmp_path / "bad").exists()


def test_http_404_names_the_url(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    with pytest.raises(
        DataError, match=r"unknown split 'val': http://127\.0\.0\.1:\d+/nope/task1/raw/val\.en\.gz does not exist"
    ):
        prepare_multi30k(
            tmp_path / "bad", url=url + "nope", cache_dir=tmp_path / "cache", langs=["de"], splits=["val"]
        )


def test_pinned_checksums_verify_the_first_download(served: tuple[str, Path], tmp_path: Path) -> None:
    """data.checksums: a file tampered with before its first download is refused, not trusted on first use."""
    from clir_calib.config import load_config

    url, folder = served
    honest = {rel: hashlib.sha256((folder / rel).read_bytes()).hexdigest()
              for rel in ("task1/raw/val.en.gz", "task1/raw/val.de.gz")}
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps({"files": honest}))
    config = load_config(None, [f"data.checksums={pins}"])
    (folder / "task1/raw/val.en.gz").write_bytes((folder / "task1/raw/val.de.gz").read_bytes())  # tampered
    with pytest.raises(DataError, match=r"checksum mismatch for http://127\.0\.0\.1:\d+/task1/raw/val\.en\.gz"):
        prepare_multi30k(tmp_path / "out", url=url, cache_dir=tmp_path / "cache", langs=["de"], splits=["val"],
                         config=config)
    assert not (tmp_path / "out").exists()
    pins.write_text(json.dumps({"files": {"task1/raw/val.en.gz": "nothex"}}))
    with pytest.raises(DataError, match="no 64-digit hex sha256"):
        prepare_multi30k(tmp_path / "out", url=url, cache_dir=tmp_path / "cache", langs=["de"], splits=["val"],
                         config=config)


def test_url_scheme_and_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is plain http, which anyone on the way can alter"):
        UrlSource("http://example.org/multi30k/data")
    with pytest.raises(DataError, match="must start with https://, file:// or http://localhost"):
        UrlSource("ftp://example.org/data", tmp_path)
    monkeypatch.setenv("CLIR_CALIB_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    assert UrlSource("https://example.org/data/").folder.parent == tmp_path / "elsewhere"
    monkeypatch.delenv("CLIR_CALIB_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "clir-calib" / "multi30k"
