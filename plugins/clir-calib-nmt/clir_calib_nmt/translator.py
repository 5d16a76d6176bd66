"""Translate with any Hugging Face seq2seq model (MarianMT, an ``nmt-train`` folder, ...).

Models written by ``clir-calib nmt-train`` keep their English target tokenizer in the
``target_tokenizer/`` sub-folder and their source language in ``clir_calib_nmt.json``; other
models (e.g. ``Helsinki-NLP/opus-mt-de-en``) use one tokenizer for both sides.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from clir_calib.errors import ModelError
from clir_calib_nmt.progress import progress_bar

METADATA_FILE = "clir_calib_nmt.json"
TARGET_TOKENIZER_DIR = "target_tokenizer"
CHUNK_SENTENCES = 256  # translate(on_chunk=...): how often finished translations are handed over
#: What a seq2seq model needs from a hub repository (Marian: *.spm + vocab.json; no TF/Flax/Rust copies).
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.spm", "*.txt", "*.vocab", "pytorch_model.bin"]


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; all but ``batch_size`` change the output and so key the cache."""

    num_beams: int = 4
    batch_size: int = 32
    max_length: int = 128  # source tokens kept and target tokens generated

    def cache_key(self) -> dict[str, Any]:
        key = asdict(self)
        key.pop("batch_size")
        key["length_rule"] = "2*source+10"  # see Seq2SeqTranslator.translate_batch
        return key


def locate_model(name_or_path: str) -> Path:
    """The local folder of a model: the path itself, or the hub snapshot of a model name.

    Raises a one-line :class:`ModelError` when neither works (offline machines have no hub).
    """
    from huggingface_hub import snapshot_download

    from clir_calib.models.resolution import hub_offline, hub_reachable, looks_like_path

    path = Path(name_or_path).expanduser()
    train_hint = "train one with 'clir-calib nmt-train' and give its folder"
    if path.exists():
        if (path / "config.json").is_file():
            return path
        raise ModelError(f"{path} has no config.json, so it is no translation model; {train_hint}")
    if looks_like_path(name_or_path):
        raise ModelError(f"translation model folder {name_or_path} does not exist; {train_hint}")
    try:
        return Path(snapshot_download(name_or_path, allow_patterns=_HUB_PATTERNS, local_files_only=True))
    except Exception:
        pass  # not cached yet: try the hub below
    if hub_offline() or not hub_reachable():
        why = "switched off (HF_HUB_OFFLINE)" if hub_offline() else "unreachable"
        raise ModelError(
            f"translation model {name_or_path!r} is neither a local folder nor in the Hugging Face cache, "
            f"and the hub is {why}; {train_hint}"
        )
    try:
        return Path(snapshot_download(name_or_path, allow_patterns=_HUB_PATTERNS))
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(
            f"cannot download translation model {name_or_path!r} ({reason[:160]}); {train_hint}"
        ) from None


def read_metadata(folder: Path) -> dict[str, Any]:
    """``clir_calib_nmt.json`` of an ``nmt-train`` folder, or ``{}`` for other models."""
    file = folder / METADATA_FILE
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError:
        raise ModelError(f"{file} is not valid JSON; re-run 'clir-calib nmt-train' for that model") from None
    return data if isinstance(data, dict) else {}


class Seq2SeqTranslator:
    """A loaded seq2seq model, its tokenizers and decoding settings."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        target_tokenizer: Any,
        device: torch.device,
        settings: GenerationSettings,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.target_tokenizer = target_tokenizer
        self.device = device
        self.settings = settings

    @classmethod
    def load(
        cls, folder: Path, device: str | torch.device = "auto", settings: GenerationSettings | None = None
    ) -> Seq2SeqTranslator:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        from clir_calib.models.device import resolve_device
        from clir_calib.models.loading import safe_from_pretrained

        torch_device = resolve_device(device)
        try:
            tokenizer = safe_from_pretrained(AutoTokenizer, folder)
            target_dir = folder / TARGET_TOKENIZER_DIR
            target = safe_from_pretrained(AutoTokenizer, target_dir) if target_dir.is_dir() else tokenizer
            model = safe_from_pretrained(AutoModelForSeq2SeqLM, folder)
        except (OSError, ValueError, KeyError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ModelError(
                f"cannot load a seq2seq translation model from {folder} ({reason[:160]}); "
                "give a folder written by 'clir-calib nmt-train' or a MarianMT-style model"
            ) from None
        model.to(torch_device).eval()
        return cls(model, tokenizer, target, torch_device, settings or GenerationSettings())

    def translate(
        self, texts: list[str], progress: bool = False, on_chunk: Callable[[dict[str, str]], None] | None = None
    ) -> list[str]:
        """Translations of ``texts`` in the same order (batched longest first, beam search).

        ``on_chunk`` receives ``{source: translation}`` every :data:`CHUNK_SENTENCES` sentences (and at the
        end), so a cache can keep finished work when a long run is killed.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        outputs = [""] * len(texts)
        step = max(1, self.settings.batch_size)
        done: dict[str, str] = {}
        with progress_bar(progress, len(texts), "translating") as advance:
            for start in range(0, len(order), step):
                chunk = order[start : start + step]
                for index, text in zip(chunk, self.translate_batch([texts[i] for i in chunk]), strict=True):
                    outputs[index] = text
                    done[texts[index]] = text
                advance(len(chunk))
                if on_chunk is not None and (len(done) >= CHUNK_SENTENCES or start + step >= len(order)):
                    on_chunk(done)
                    done = {}
        return outputs

    @property
    def max_new_tokens(self) -> int:
        """``settings.max_length``, capped by the decoder's position table (generating past it crashes)."""
        config = self.model.config
        positions = getattr(getattr(config, "decoder", config), "max_position_embeddings", None)
        if not isinstance(positions, int):
            return self.settings.max_length
        return max(1, min(self.settings.max_length, positions - 2))

    def translate_batch(self, texts: list[str]) -> list[str]:
        """One generate() call; outputs stop at twice the source length + 10 tokens (a weak model that
        loops would otherwise hold the whole batch until ``max_new_tokens``)."""
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.settings.max_length, return_tensors="pt"
        )
        inputs = {k: batch[k].to(self.device) for k in ("input_ids", "attention_mask")}
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self.device.type == "cuda"
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            generated = self.model.generate(
                **inputs,
                num_beams=self.settings.num_beams,
                max_new_tokens=min(self.max_new_tokens, 2 * inputs["input_ids"].shape[1] + 10),
                do_sample=False,
                early_stopping=self.settings.num_beams > 1,
            )
        decoded = self.target_tokenizer.batch_decode(generated, skip_special_tokens=True)
        return [text.strip() for text in decoded]
