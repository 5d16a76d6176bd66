"""A sentence encoder: a transformers model + tokenizer + pooling, prefixes and normalisation.

Training code uses :meth:`Encoder.encode_batch` (token states, mask and pooled vector, with
gradients); retrieval uses :meth:`Encoder.encode` (inference mode, length-sorted batches,
bf16 autocast on CUDA, results in the caller's order).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from clir_calib.atomic import atomic_dir, write_json
from clir_calib.errors import ConfigError, DataError, ModelError, NumericalError
from clir_calib.losses.base import EncodedBatch
from clir_calib.models.device import autocast_dtype, resolve_device
from clir_calib.models.resolution import resolve_model

if TYPE_CHECKING:
    from clir_calib.config import EncoderConfig

SETTINGS_FILE = "clir_calib_encoder.json"
ROLES = ("query", "passage")
POOLINGS = ("mean", "cls")
_E5_NAME = re.compile(r"(^|[/_\-.])e5([/_\-.]|$)", re.IGNORECASE)


def is_e5_name(name: str) -> bool:
    """E5 models (``intfloat/multilingual-e5-small``, ``e5-base-v2``...) expect role prefixes."""
    return bool(_E5_NAME.search(name))


@dataclass
class EncoderSettings:
    """How texts become vectors; saved next to the weights as ``clir_calib_encoder.json``."""

    pooling: str = "mean"
    normalize: bool = True
    max_length: int = 128
    query_prefix: str = ""
    passage_prefix: str = ""
    batch_size: int = 64
    source_name: str = ""

    def check(self) -> EncoderSettings:
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}; choose {' or '.join(POOLINGS)}")
        if self.max_length < 2:
            raise ConfigError(f"max_length must be at least 2, got {self.max_length}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be positive, got {self.batch_size}")
        return self


def read_settings(folder: Path) -> dict[str, Any]:
    """The saved encoder settings of ``folder`` (empty when it has none)."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise ModelError(f"{path} is not valid JSON; delete it or save the encoder again") from None
    known = set(EncoderSettings.__dataclass_fields__)
    return {k: v for k, v in data.items() if k in known} if isinstance(data, dict) else {}


def sentence_transformers_defaults(folder: Path) -> dict[str, Any]:
    """Pooling and max length declared by a sentence-transformers folder (empty when absent)."""
    found: dict[str, Any] = {}
    try:
        st_config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        if isinstance(st_config.get("max_seq_length"), int):
            found["max_length"] = st_config["max_seq_length"]
    except (OSError, json.JSONDecodeError, AttributeError):
        pass
    try:
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        if pooling.get("pooling_mode_cls_token"):
            found["pooling"] = "cls"
        elif pooling.get("pooling_mode_mean_tokens"):
            found["pooling"] = "mean"
    except (OSError, json.JSONDecodeError, AttributeError):
        pass
    return found


class Encoder:
    """Wraps a transformers encoder model and its fast tokenizer as a sentence encoder."""

    def __init__(self, model: Any, tokenizer: Any, settings: EncoderSettings, name: str = "",
                 folder: Path | None = None, device: str | torch.device = "auto") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings.check()
        self.name = name or settings.source_name
        self.folder = folder
        self.device = resolve_device(device)
        self.model.to(self.device)
        limit = _length_limit(model, tokenizer)
        self.settings.max_length = min(self.settings.max_length, limit)

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str],
        *,
        pooling: str | None = None,
        normalize: bool | None = None,
        max_length: int | None = None,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        batch_size: int | None = None,
        device: str | torch.device = "auto",
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> Encoder:
        """Resolve ``name_or_path`` (local, HF cache/hub, offline provider) and load it.

        Settings: explicit arguments, else the folder's ``clir_calib_encoder.json``, else its
        sentence-transformers files (pooling, max length), else defaults (E5 names get the
        ``query: `` / ``passage: `` prefixes).
        """
        from transformers import AutoModel, AutoTokenizer

        name = str(name_or_path)
        folder = resolve_model(name, cache_dir=cache_dir)
        saved = read_settings(folder)
        source = str(saved.get("source_name") or name)
        e5 = is_e5_name(name) or is_e5_name(source)
        merged: dict[str, Any] = {
            "query_prefix": "query: " if e5 else "",
            "passage_prefix": "passage: " if e5 else "",
            "source_name": source,
        }
        merged.update(sentence_transformers_defaults(folder))
        merged.update(saved)
        explicit = {"pooling": pooling, "normalize": normalize, "max_length": max_length,
                    "query_prefix": query_prefix, "passage_prefix": passage_prefix, "batch_size": batch_size}
        merged.update({k: v for k, v in explicit.items() if v is not None})
        settings = EncoderSettings(**merged)
        try:
            with quiet_transformers():
                tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
                model = AutoModel.from_pretrained(
                    folder, trust_remote_code=False, weights_only=True, dtype=torch.float32,
                    **_no_pooler_kwargs(folder),
                )
        except Exception as error:  # transformers raises many types for broken or foreign folders
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ModelError(f"cannot load the model in {folder}: {type(error).__name__}: {first}") from error
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(f"{folder} has no fast tokenizer (tokenizer.json); re-save it with a fast tokenizer")
        model.eval()
        return cls(model, tokenizer, settings, name=name, folder=folder, device=device)

    @classmethod
    def load(cls, cfg: EncoderConfig, device: str | torch.device = "auto",
             cache_dir: str | os.PathLike[str] | None = None) -> Encoder:
        """Load the encoder an :class:`EncoderConfig` describes (its values win over saved ones)."""
        return cls.from_pretrained(
            cfg.name, pooling=cfg.pooling, normalize=cfg.normalize, max_length=cfg.max_length,
            query_prefix=cfg.query_prefix, passage_prefix=cfg.passage_prefix,
            batch_size=cfg.batch_size, device=device, cache_dir=cache_dir,
        )

    # -------------------------------------------------------------- properties
    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def max_length(self) -> int:
        return self.settings.max_length

    def prefix(self, role: str) -> str:
        """The text prefix for ``role`` (``query`` or ``passage``)."""
        if role == "query":
            return self.settings.query_prefix
        if role == "passage":
            return self.settings.passage_prefix
        raise ConfigError(f"unknown encoder role {role!r}; choose query or passage")

    def _prefixed(self, texts: Sequence[str], role: str) -> list[str]:
        prefix = self.prefix(role)
        if isinstance(texts, str):
            raise DataError("encoder input must be a list of texts, not a single string; wrap it in a list")
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"encoder input {i} is {type(text).__name__}, not a string; pass a list of texts")
            out.append(prefix + text)
        return out

    # ---------------------------------------------------------------- training
    def tokenize(self, texts: Sequence[str], role: str = "passage") -> dict[str, torch.Tensor]:
        """Padded ``input_ids``, ``attention_mask`` and ``special_tokens_mask`` on the model's device.

        ``special_tokens_mask`` here follows transformers (padding counts as special);
        :meth:`encode_batch` zeroes it on padding so it marks only real ``<s>``/``</s>`` tokens.
        """
        batch = self.tokenizer(
            self._prefixed(texts, role), padding=True, truncation=True, max_length=self.max_length,
            return_special_tokens_mask=True, return_token_type_ids=False, return_tensors="pt",
        )
        return {key: value.to(self.device) for key, value in batch.items()}

    def encode_batch(self, texts: Sequence[str], role: str = "passage") -> EncodedBatch:
        """Encode one batch with gradients (the caller sets train/eval mode and autocast)."""
        if len(texts) == 0:
            raise DataError("encode_batch got an empty batch; give at least one text")
        batch = self.tokenize(texts, role)
        special = batch.pop("special_tokens_mask") * batch["attention_mask"]
        states = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        pooled = self.pool(states, batch["attention_mask"])
        return EncodedBatch(states, batch["attention_mask"], pooled, special)

    def pool(self, token_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean over real tokens (specials included, as E5/SBERT do) or the first token; float32."""
        states = token_states.float()
        if self.settings.pooling == "cls":
            pooled = states[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return F.normalize(pooled, p=2, dim=-1) if self.settings.normalize else pooled

    # --------------------------------------------------------------- inference
    def encode(self, texts: Sequence[str], role: str = "passage", batch_size: int | None = None,
               progress: bool = False) -> torch.Tensor:
        """Embeddings ``[N, d]`` (float32, CPU) in the order of ``texts``."""
        prefixed = self._prefixed(texts, role)
        if not prefixed:
            return torch.zeros(0, self.hidden_size)
        size = batch_size or self.settings.batch_size
        ids = self.tokenizer(prefixed, truncation=True, max_length=self.max_length, padding=False,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out = torch.empty(len(ids), self.hidden_size)
        dtype = autocast_dtype(self.device)
        amp = torch.autocast(self.device.type, dtype=dtype) if dtype is not None else nullcontext()
        with self._eval_mode(), torch.inference_mode(), amp, _progress(progress, len(ids)) as advance:
            for start in range(0, len(order), size):
                chunk = order[start:start + size]
                input_ids, mask = _pad([ids[i] for i in chunk], pad_id)
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                states = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                out[torch.tensor(chunk)] = self.pool(states, mask).cpu()
                advance(len(chunk))
        if not torch.isfinite(out).all():
            raise NumericalError(f"{self.name}: the encoder produced NaN/inf embeddings; check the model weights")
        return out

    @contextmanager
    def _eval_mode(self) -> Iterator[None]:
        was_training = self.model.training
        self.model.eval()
        try:
            yield
        finally:
            self.model.train(was_training)

    # -------------------------------------------------------------------- save
    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write a loadable HF folder (weights, tokenizer, ``clir_calib_encoder.json``) into ``folder``.

        A new folder appears atomically; into an existing folder (a run directory) every file is
        written to a temporary sibling first and then moved in.
        """
        target = Path(folder)
        if not target.exists():
            with atomic_dir(target) as tmp:
                self._write(tmp)
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.save-", dir=target.parent))
        try:
            self._write(staging)
            for item in staging.iterdir():
                destination = target / item.name
                if destination.is_dir() and not item.is_dir():
                    shutil.rmtree(destination)
                os.replace(item, destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _write(self, folder: Path) -> None:
        with quiet_transformers():
            self.model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
        write_json(folder / SETTINGS_FILE, asdict(self.settings))

    def __repr__(self) -> str:
        s = self.settings
        return (f"Encoder({self.name!r}, d={self.hidden_size}, pooling={s.pooling}, normalize={s.normalize}, "
                f"max_length={s.max_length}, device={self.device})")


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


def _no_pooler_kwargs(folder: Path) -> dict[str, Any]:
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


def _length_limit(model: Any, tokenizer: Any) -> int:
    limits = [int(getattr(model.config, "max_position_embeddings", 512) or 512)]
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 100_000:
        limits.append(tok_max)
    return min(limits)


def _pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists into ``input_ids`` and ``attention_mask`` tensors."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]
    input_ids = np.full(mask.shape, pad_id, dtype=np.int64)
    input_ids[mask] = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum()))
    return torch.from_numpy(input_ids), torch.from_numpy(mask.astype(np.int64))


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("encoding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task("encode", total=total)
        yield lambda n: bar.advance(task, n)
