"""The compact translator: a pretrained multilingual encoder + a small random English decoder.

Why this shape: the encoder is the student's own starting model (multilingual-e5-small), so the
baseline gets the same pretrained knowledge and the same bitext as distillation. It stays
frozen, which lets training cache its outputs once and train only the decoder: minutes on two
CPU cores. The decoder predicts from an English BPE vocabulary learned on the bitext's English
side (8k pieces instead of the encoder's 250k), which keeps the output layer small and fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from clir_calib.errors import ConfigError, ModelError

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")


@dataclass(frozen=True)
class DecoderSize:
    """Shape of the randomly initialised BERT decoder (with cross-attention)."""

    hidden: int = 256
    layers: int = 3
    heads: int = 4
    ffn: int = 1024
    dropout: float = 0.1
    vocab_size: int = 8000


def train_target_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A BPE tokenizer for English targets: lossless Metaspace detokenisation, ``</s>`` appended."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False
    )
    backend.train_from_iterator(texts, trainer)
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", backend.token_to_id("</s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def resolve_encoder(name_or_path: str) -> Path:
    """A local encoder folder for ``name_or_path`` through clir-calib's offline-first resolution."""
    from clir_calib.models import resolve_model

    return Path(resolve_model(name_or_path))


def load_encoder(folder: Path) -> tuple[Any, Any]:
    """The pretrained encoder (no pooler, no LM head) and its tokenizer from a HF folder."""
    from transformers import AutoModel, AutoTokenizer

    from clir_calib.models.loading import safe_from_pretrained

    try:
        tokenizer = safe_from_pretrained(AutoTokenizer, folder)
        encoder = safe_from_pretrained(AutoModel, folder)
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(
            f"cannot load the encoder from {folder} ({reason[:160]}); give a HF encoder folder"
        ) from None
    return encoder, tokenizer


def keep_lower_layers(encoder: Any, layers: int | None) -> Any:
    """Keep the encoder's first ``layers`` transformer layers (None or more than it has: all). Lower layers of a
    sentence-embedding model keep more token-level detail, and fewer layers encode faster."""
    if layers is None:
        return encoder
    stack = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(stack, torch.nn.ModuleList):
        raise ConfigError(
            "encoder_layers works for BERT-style encoders only (encoder.encoder.layer); leave it unset"
        )
    if layers < 1:
        raise ConfigError(f"encoder_layers must be at least 1 (or unset for all layers), got {layers}")
    if layers >= len(stack):  # a model with fewer layers keeps them all
        return encoder
    encoder.encoder.layer = stack[:layers]
    encoder.config.num_hidden_layers = layers
    return encoder


def encoder_stack(encoder: Any) -> torch.nn.ModuleList:
    stack = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(stack, torch.nn.ModuleList):
        raise ConfigError("train_encoder_layers works for BERT-style encoders only (encoder.encoder.layer); use 0")
    return stack


def unfreeze_top_layers(encoder: Any, count: int) -> list[torch.nn.Parameter]:
    """Make the encoder's top ``count`` layers trainable (the rest stays frozen) and return their parameters."""
    if count < 0:
        raise ConfigError(f"train_encoder_layers must be 0 or more, got {count}")
    if count == 0:
        return []
    stack = encoder_stack(encoder)
    if count >= len(stack):
        raise ConfigError(f"train_encoder_layers {count} must be below the encoder's {len(stack)} layers "
                          "(the frozen lower layers are what is cached)")
    top = list(stack[len(stack) - count:].parameters())
    for parameter in top:
        parameter.requires_grad_(True)
    return top


def build_translation_model(encoder: Any, target_tokenizer: Any, size: DecoderSize, max_length: int) -> Any:
    """An ``EncoderDecoderModel``: the given encoder + a random decoder sized by ``size``."""
    from transformers import BertConfig, BertLMHeadModel, EncoderDecoderModel

    decoder_config = BertConfig(
        vocab_size=len(target_tokenizer),
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=size.ffn,
        hidden_dropout_prob=size.dropout,
        attention_probs_dropout_prob=size.dropout,
        max_position_embeddings=max(max_length + 2, 64),  # the translator caps generation to this
        is_decoder=True,
        add_cross_attention=True,
        pad_token_id=target_tokenizer.pad_token_id,
        bos_token_id=target_tokenizer.bos_token_id,
        eos_token_id=target_tokenizer.eos_token_id,
    )
    model = EncoderDecoderModel(encoder=encoder, decoder=BertLMHeadModel(decoder_config))
    special = {
        "decoder_start_token_id": target_tokenizer.bos_token_id,
        "bos_token_id": target_tokenizer.bos_token_id,
        "eos_token_id": target_tokenizer.eos_token_id,
        "pad_token_id": target_tokenizer.pad_token_id,
    }
    for key, value in special.items():
        setattr(model.config, key, value)
        setattr(model.generation_config, key, value)
    model.generation_config.max_new_tokens = max_length
    model.encoder.requires_grad_(False)
    return model


def trainable_parameters(model: Any) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]
