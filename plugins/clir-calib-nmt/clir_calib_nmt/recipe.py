"""What defines an ``nmt-train`` run: its config (saved as ``train_config.json``), the options that build it,
and the key a trained model is stored under (its inputs)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clir_calib.config import E5_SMALL
from clir_calib.errors import ConfigError, DataError
from clir_calib_nmt.architecture import DecoderSize

SELECTIONS = ("average", "best", "last")


@dataclass
class NmtTrainConfig:
    """Everything that defines a training run (saved as ``train_config.json``)."""

    lang: str = "de"
    encoder: str = E5_SMALL
    max_pairs: int | None = None  # the first N pairs (None: the language's full bitext, 29,000 for Multi30k)
    val_pairs: int | None = None  # None: all 1,014 validation pairs
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = 64
    decoder: DecoderSize = field(default_factory=DecoderSize)
    encoder_layers: int | None = 8  # keep the encoder's first N layers (None: all); 8 of 12 beat 12 on val
    train_encoder_layers: int = 0  # also train the top K kept encoder layers (their input states are cached)
    encoder_lr: float = 1e-4  # learning rate of those pretrained layers
    encode_batch_size: int = 128
    eval_beams: int = 4
    select: str = "average"  # the saved decoder: average (of the last epochs' weights) | best (val loss) | last
    average_last: int = 3  # select=average: how many epoch-end checkpoints are averaged
    encoder_languages: list[str] | None = None  # None: known for the encoder's family (languages.py), else [lang]
    log_every: int = 50
    seed: int = 13
    device: str = "auto"

    def check(self) -> None:
        for name in ("epochs", "batch_size", "max_length", "encode_batch_size", "eval_beams", "log_every",
                     "average_last"):
            if getattr(self, name) < 1:
                raise ConfigError(f"nmt-train: {name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"nmt-train: lr must be positive, got {self.lr}")
        if self.select not in SELECTIONS:
            raise ConfigError(f"nmt-train: select must be one of {', '.join(SELECTIONS)}, got {self.select!r}")
        if self.decoder.hidden % self.decoder.heads:
            raise ConfigError(
                f"nmt-train: decoder hidden {self.decoder.hidden} must divide by heads {self.decoder.heads}"
            )


@dataclass
class Pairs:
    """Aligned source (xx) and English target sentences."""

    source: list[str]
    target: list[str]

    def __post_init__(self) -> None:
        if len(self.source) != len(self.target):
            raise DataError(f"{len(self.source)} source sentences but {len(self.target)} English ones")
        if not self.source:
            raise DataError("no sentence pairs; check the prepared bitext (clir-calib prepare)")


def train_options(cfg: Any, **options: Any) -> NmtTrainConfig:
    """An :class:`NmtTrainConfig` from ``nmt-train``'s options (0 means "all" for ``max_pairs`` and
    ``encoder_layers``), the experiment config's student encoder, seed and device; checked."""
    from clir_calib.config import check_languages

    check_languages([options["lang"]])
    if options["max_pairs"] < 0:
        raise ConfigError(f"--max-pairs must be 0 (all pairs) or positive, got {options['max_pairs']}")
    hidden = options.pop("decoder_hidden")
    decoder = DecoderSize(hidden=hidden, layers=options.pop("decoder_layers"), heads=options.pop("decoder_heads"),
                          ffn=4 * hidden, vocab_size=options.pop("vocab_size"))
    languages = [x.strip() for x in str(options.pop("encoder_languages") or "").split(",") if x.strip()]
    options["eval_beams"] = options.pop("beams")
    options["encoder"] = options.get("encoder") or cfg.models.student.name
    options["max_pairs"] = options["max_pairs"] or None
    options["encoder_layers"] = options["encoder_layers"] or None
    config = NmtTrainConfig(**options, decoder=decoder, encoder_languages=languages or None, seed=cfg.seed,
                            device=cfg.device)
    config.check()
    return config


def training_key(prepared: Path, config: NmtTrainConfig) -> str:
    """16 hex digits over what a trained model depends on: the prepared data's input checksums and the
    training config (``device`` excluded: it changes speed, not the recipe)."""
    from clir_calib.data.store import load_manifest

    recipe = {k: v for k, v in asdict(config).items() if k != "device"}
    inputs = load_manifest(prepared).get("inputs", {})
    payload = json.dumps({"inputs": inputs, "config": recipe}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
