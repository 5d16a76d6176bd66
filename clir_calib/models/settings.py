"""Encoder settings: how texts become vectors, saved next to the weights and read back."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clir_calib.config import POOLINGS
from clir_calib.errors import ConfigError, ModelError

SETTINGS_FILE = "clir_calib_encoder.json"
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
