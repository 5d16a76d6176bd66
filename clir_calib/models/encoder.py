"""A sentence encoder: a transformers model + tokenizer + pooling, prefixes and normalisation.

Training code uses :meth:`Encoder.encode_batch` (token states, mask and pooled vector, with
gradients); retrieval uses :meth:`Encoder.encode` (inference mode, length-sorted batches,
bf16 autocast on CUDA, results in the caller's order).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from clir_calib.errors import ConfigError, DataError, ModelError, NumericalError
from clir_calib.models.batch import EncodedBatch, pad_token_ids, prefix_tokens
from clir_calib.models.device import autocast_dtype, resolve_device
from clir_calib.models.loading import (
    length_limit,
    no_pooler_kwargs,
    quiet_transformers,
    safe_from_pretrained,
    shared_tokenizer,
)
from clir_calib.models.projection import PROJECTION_FILE, load_projection
from clir_calib.models.resolution import resolve_model
from clir_calib.models.settings import (
    SETTINGS_FILE,
    EncoderSettings,
    is_e5_name,
    read_settings,
    sentence_transformers_defaults,
)
from clir_calib.progress import progress_bar

if TYPE_CHECKING:
    from clir_calib.config import EncoderConfig

__all__ = ["PROJECTION_FILE", "SETTINGS_FILE", "TOKENIZER_FILES", "Encoder"]  # the files' names, from where they are used

#: Files of which a model folder needs at least one to define its tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model", "vocab.json",
                   "tokenizer.model")


class Encoder:
    """Wraps a transformers encoder model and its fast tokenizer as a sentence encoder.

    A folder with ``projection.safetensors`` (a student distilled into a teacher of another width)
    gets that linear map applied to its token states, so its vectors live in the teacher's space.
    """

    def __init__(self, model: Any, tokenizer: Any, settings: EncoderSettings, name: str = "",
                 folder: Path | None = None, device: str | torch.device = "auto",
                 projection: torch.nn.Linear | None = None) -> None:
        self.model = model
        self.projection = projection
        self.tokenizer = tokenizer
        self.settings = settings.check()
        self.name = name or settings.source_name
        self.folder = folder
        self.device = resolve_device(device)
        self.model.to(self.device)
        if self.projection is not None:
            self.projection.to(self.device)
        limit = length_limit(model, tokenizer)
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
        from transformers import AutoModel

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
        if folder.is_dir() and not any((folder / f).is_file() for f in TOKENIZER_FILES):
            raise ModelError(f"{folder} has no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...); copy the "
                             "tokenizer of the model it was trained from into it")
        try:
            with quiet_transformers():
                tokenizer = shared_tokenizer(folder)
                model = safe_from_pretrained(AutoModel, folder, weights_only=True, dtype=torch.float32,
                                             **no_pooler_kwargs(folder))
        except Exception as error:  # transformers raises many types for broken or foreign folders
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ModelError(f"cannot load the model in {folder}: {type(error).__name__}: {first}") from error
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(f"{folder} has no fast tokenizer (tokenizer.json); re-save it with a fast tokenizer")
        if len(tokenizer) <= len(set(tokenizer.all_special_ids)) + 1:
            raise ModelError(f"the tokenizer in {folder} has only special tokens ({len(tokenizer)} in all): every word "
                             "would become [UNK]; copy the model's real tokenizer files into the folder")
        model.eval()
        return cls(model, tokenizer, settings, name=name, folder=folder, device=device,
                   projection=load_projection(folder, int(model.config.hidden_size)))

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
        """Width of the model's token states (before any projection)."""
        return int(self.model.config.hidden_size)

    @property
    def output_size(self) -> int:
        """Width of the vectors :meth:`encode` returns (the projection's, when there is one)."""
        return int(self.projection.out_features) if self.projection is not None else self.hidden_size

    def _project(self, states: torch.Tensor) -> torch.Tensor:
        if self.projection is None:
            return states
        return self.projection(states.to(self.projection.weight.dtype))

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
        """Padded ``input_ids``, ``attention_mask``, ``special_tokens_mask`` and ``prefix_tokens_mask`` on the
        model's device.

        ``special_tokens_mask`` here follows transformers (padding counts as special);
        :meth:`encode_batch` zeroes it on padding so it marks only real ``<s>``/``</s>`` tokens.
        ``prefix_tokens_mask`` marks the tokens of the role's text prefix (E5's ``passage: ``): those whose
        characters all lie inside the prefix, read from the fast tokenizer's offsets.
        """
        prefix_chars = len(self.prefix(role))
        batch = self.tokenizer(
            self._prefixed(texts, role), padding=True, truncation=True, max_length=self.max_length,
            return_special_tokens_mask=True, return_token_type_ids=False, return_tensors="pt",
            return_offsets_mapping=prefix_chars > 0,
        )
        batch["prefix_tokens_mask"] = (prefix_tokens(batch.pop("offset_mapping"), batch["attention_mask"], prefix_chars)
                                       if prefix_chars else torch.zeros_like(batch["attention_mask"]))
        return {key: value.to(self.device) for key, value in batch.items()}

    def encode_batch(self, texts: Sequence[str], role: str = "passage") -> EncodedBatch:
        """Encode one batch with gradients (the caller sets train/eval mode and autocast)."""
        if len(texts) == 0:
            raise DataError("encode_batch got an empty batch; give at least one text")
        batch = self.tokenize(texts, role)
        special = batch.pop("special_tokens_mask") * batch["attention_mask"]
        states = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        states = self._project(states)
        pooled = self.pool(states, batch["attention_mask"])
        return EncodedBatch(states, batch["attention_mask"], pooled, special, prefix_tokens_mask=batch["prefix_tokens_mask"])

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
            return torch.zeros(0, self.output_size)
        size = batch_size or self.settings.batch_size
        ids = self.tokenizer(prefixed, truncation=True, max_length=self.max_length, padding=False,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out = torch.empty(len(ids), self.output_size)
        dtype = autocast_dtype(self.device)
        amp = torch.autocast(self.device.type, dtype=dtype) if dtype is not None else nullcontext()
        with self.eval_mode(), torch.inference_mode(), amp, progress_bar(progress, len(ids), "encoding") as advance:
            for start in range(0, len(order), size):
                chunk = order[start:start + size]
                input_ids, mask = pad_token_ids([ids[i] for i in chunk], pad_id)
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                states = self._project(self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state)
                out[torch.tensor(chunk)] = self.pool(states, mask).cpu()
                advance(len(chunk))
        if not torch.isfinite(out).all():
            raise NumericalError(f"{self.name}: the encoder produced NaN/inf embeddings; check the model weights")
        return out

    @contextmanager
    def eval_mode(self) -> Iterator[None]:
        """The model in eval mode (no dropout) inside, its training flag restored after."""
        was_training = self.model.training
        self.model.eval()
        try:
            yield
        finally:
            self.model.train(was_training)

    # -------------------------------------------------------------------- save
    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write a loadable HF folder (weights, tokenizer, ``clir_calib_encoder.json``) into ``folder``
        (:func:`clir_calib.models.saving.save_encoder`)."""
        from clir_calib.models.saving import save_encoder

        return save_encoder(self, Path(folder))

    def __repr__(self) -> str:
        s = self.settings
        return (f"Encoder({self.name!r}, d={self.hidden_size}, pooling={s.pooling}, normalize={s.normalize}, "
                f"max_length={s.max_length}, device={self.device})")
