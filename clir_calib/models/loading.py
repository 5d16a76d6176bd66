"""Helpers around transformers loading: one safe loader, quiet loads, no unused pooler, the usable length.

Every model load of clir-calib and its plugins goes through :func:`safe_from_pretrained`: no remote
code, safetensors weights only (a pickle-only ``pytorch_model.bin`` is refused, not executed).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SAFE_LOAD_KWARGS: dict[str, Any] = {"trust_remote_code": False, "use_safetensors": True}
#: Every file a transformers tokenizer is built from (``config.json`` included: it can name the class).
TOKENIZER_INPUTS = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                    "vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model",
                    "tokenizer.model", "config.json")
#: How many distinct tokenizers stay loaded (a study uses one or two).
TOKENIZERS_KEPT = 4
_TOKENIZERS: OrderedDict[str, Any] = OrderedDict()


def safe_from_pretrained(loader: Any, folder: str | Path, **kwargs: Any) -> Any:
    """``loader.from_pretrained(folder)`` with the safe settings (tokenizers: no remote code)."""
    settings = dict(SAFE_LOAD_KWARGS)
    if "Tokenizer" in getattr(loader, "__name__", ""):
        settings.pop("use_safetensors")
    return loader.from_pretrained(folder, **settings, **kwargs)


#: ``config.json`` keys that describe the weights, not the tokenizer: a saved student's config adds ``dtype``
WEIGHTS_ONLY_CONFIG_KEYS = ("dtype", "torch_dtype", "transformers_version")


def tokenizer_inputs_digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of the folder's :data:`TOKENIZER_INPUTS` (``config.json`` without its
    :data:`WEIGHTS_ONLY_CONFIG_KEYS`): equal digests, equal tokenizers."""
    digest = hashlib.sha256()
    for name in TOKENIZER_INPUTS:
        path = folder / name
        if path.is_file():
            data = path.read_bytes()
            if name == "config.json":
                data = _tokenizer_relevant_config(data)
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


def _tokenizer_relevant_config(data: bytes) -> bytes:
    try:
        config = json.loads(data)
    except ValueError:
        return data  # not JSON: the bytes as they are (the load will say what is wrong)
    if not isinstance(config, dict):
        return data
    kept = {k: v for k, v in config.items() if k not in WEIGHTS_ONLY_CONFIG_KEYS}
    return json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()


def save_tokenizer(tokenizer: Any, source: Path | None, folder: Path) -> None:
    """Write ``tokenizer`` into ``folder``: a byte copy of its source files when it is the tokenizer loaded from
    exactly those files (:func:`shared_tokenizer`), else ``save_pretrained``. A copy keeps a student's tokenizer
    the base model's, byte for byte, whatever transformers would re-serialise, so a study's students share the
    base model's loaded tokenizer instead of building their own."""
    if source is not None and Path(source).is_dir() and \
            _TOKENIZERS.get(tokenizer_inputs_digest(Path(source))) is tokenizer:
        for name in TOKENIZER_INPUTS:
            if name != "config.json" and (Path(source) / name).is_file():
                shutil.copyfile(Path(source) / name, folder / name)
        return
    tokenizer.save_pretrained(folder)


def shared_tokenizer(folder: Path) -> Any:
    """The fast tokenizer in ``folder``, loaded once per process for the same tokenizer files.

    Building XLM-R's 250k-piece tokenizer takes about 1.2 s, and a study loads the same one for every teacher,
    student and validation encoder (12 times in the quick study). Encoders loaded from files with equal bytes
    therefore share one tokenizer object, keyed by content (a re-saved folder or an edited file is a new key).
    Nothing in clir-calib changes a tokenizer after loading; code that adds tokens should ``copy.deepcopy`` it
    first."""
    from transformers import AutoTokenizer

    key = tokenizer_inputs_digest(folder)
    if key in _TOKENIZERS:
        _TOKENIZERS.move_to_end(key)
        return _TOKENIZERS[key]
    tokenizer = safe_from_pretrained(AutoTokenizer, folder)
    _TOKENIZERS[key] = tokenizer
    while len(_TOKENIZERS) > TOKENIZERS_KEPT:
        _TOKENIZERS.popitem(last=False)
    return tokenizer


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars for the duration of a load/save."""
    import transformers.utils.logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def no_pooler_kwargs(folder: Path) -> dict[str, Any]:
    """``add_pooling_layer=False`` where the architecture takes it: sentence encoders never use the pooler."""
    import inspect

    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    try:
        model_class: Any = MODEL_MAPPING[type(AutoConfig.from_pretrained(folder, trust_remote_code=False))]
    except KeyError:
        return {}
    if "add_pooling_layer" in inspect.signature(model_class).parameters:
        return {"add_pooling_layer": False}
    return {}


def length_limit(model: Any, tokenizer: Any) -> int:
    limits = [int(getattr(model.config, "max_position_embeddings", 512) or 512)]
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 100_000:
        limits.append(tok_max)
    return min(limits)
