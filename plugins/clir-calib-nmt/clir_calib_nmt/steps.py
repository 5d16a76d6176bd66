"""One training step's pieces: label ids, length-bucketed batches, the loss and the validation loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from clir_calib.models.layers import top_states
from clir_calib_nmt.encoding import pad_states
from clir_calib_nmt.recipe import NmtTrainConfig


def label_ids(tokenizer: Any, texts: list[str], max_length: int) -> list[torch.Tensor]:
    encoded = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return [torch.tensor(ids, dtype=torch.long) for ids in encoded]


def length_bucketed_batches(
    states: list[torch.Tensor], batch_size: int, rng: np.random.Generator
) -> list[list[int]]:
    """Shuffled batches of similar source length (less padding), in shuffled order."""
    order = rng.permutation(len(states))
    pool = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool].tolist(), key=lambda i: states[i].shape[0])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def batch_loss(
    model: Any,
    states: list[torch.Tensor],
    labels: list[torch.Tensor],
    batch: list[int],
    target_tokenizer: Any,
    device: torch.device,
    label_smoothing: float,
    top_layers: int = 0,
) -> torch.Tensor:
    from transformers.modeling_outputs import BaseModelOutput

    hidden, mask = pad_states([states[i] for i in batch], device)
    if top_layers:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            hidden = top_states(model.encoder, hidden, mask, top_layers)  # cached states below them
    target = torch.nn.utils.rnn.pad_sequence(
        [labels[i] for i in batch], batch_first=True, padding_value=-100
    ).to(device)
    pad, start = target_tokenizer.pad_token_id, target_tokenizer.bos_token_id
    decoder_inputs = torch.cat([torch.full_like(target[:, :1], start), target[:, :-1]], dim=1)
    decoder_inputs = decoder_inputs.masked_fill(decoder_inputs == -100, pad)
    decoder_mask = torch.cat([torch.ones_like(target[:, :1]), (target[:, :-1] != -100).long()], dim=1)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
        logits = model(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
            attention_mask=mask,
            decoder_input_ids=decoder_inputs,
            decoder_attention_mask=decoder_mask,
        ).logits
    return F.cross_entropy(
        logits.float().transpose(1, 2), target, ignore_index=-100, label_smoothing=label_smoothing
    )


def validation_loss(
    model: Any,
    states: list[torch.Tensor],
    labels: list[torch.Tensor],
    target_tokenizer: Any,
    device: torch.device,
    config: NmtTrainConfig,
) -> float:
    model.decoder.eval()
    top_layers_mode(model, config, train=False)
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(states), config.batch_size):
            batch = list(range(start, min(start + config.batch_size, len(states))))
            loss = batch_loss(model, states, labels, batch, target_tokenizer, device, 0.0, config.train_encoder_layers)
            total += loss.item() * len(batch)
            count += len(batch)
    model.decoder.train()
    top_layers_mode(model, config, train=True)
    return total / max(1, count)


def top_layers_mode(model: Any, config: NmtTrainConfig, train: bool) -> None:
    """Dropout on in the trained top encoder layers while training; the frozen rest stays in eval mode."""
    if config.train_encoder_layers:
        stack = model.encoder.encoder.layer
        for layer in stack[len(stack) - config.train_encoder_layers:]:
            layer.train(train)
