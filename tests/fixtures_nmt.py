"""A tiny random seq2seq model built from a config (for the NMT plugin's tests): no downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_models import make_tiny_model


def make_tiny_seq2seq(folder: Path, seed: int = 3) -> Path:
    """A random EncoderDecoderModel of two 1-layer, 32-wide BertConfigs sharing the tiny WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertLMHeadModel, BertModel, EncoderDecoderModel

    base = make_tiny_model(folder.parent / f"{folder.name}-tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(base)
    shape = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    encoder = BertModel(BertConfig(num_hidden_layers=1, **shape), add_pooling_layer=False)
    decoder = BertLMHeadModel(
        BertConfig(num_hidden_layers=1, is_decoder=True, add_cross_attention=True, **shape)
    )
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id = tokenizer.cls_token_id
        config.eos_token_id = tokenizer.sep_token_id
        config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_seq2seq_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random seq2seq model folder (MarianMT-like: one tokenizer for both sides)."""
    return make_tiny_seq2seq(tmp_path_factory.mktemp("tiny-seq2seq") / "model")
