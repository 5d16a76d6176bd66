"""Run the frozen encoder once over all source sentences and keep its outputs (fp16, CPU)."""

from __future__ import annotations

from typing import Any

import torch

from clir_calib_nmt.progress import progress_bar


def encode_frozen(
    encoder: Any,
    tokenizer: Any,
    texts: list[str],
    max_length: int,
    batch_size: int,
    device: torch.device,
    progress: bool = False,
    below_top: int = 0,
) -> list[torch.Tensor]:
    """Per sentence, the encoder's last hidden states ``[tokens, d]`` (padding dropped), input order; with
    ``below_top`` = K, the states entering its top K layers (those layers are trained, so not cached)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    states: list[torch.Tensor | None] = [None] * len(texts)
    with progress_bar(progress, len(texts), "encoding sources") as advance, torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in chunk],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            mask = batch["attention_mask"].to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
                outputs = encoder(
                    input_ids=batch["input_ids"].to(device), attention_mask=mask, output_hidden_states=below_top > 0
                )
                hidden = outputs.hidden_states[-1 - below_top] if below_top else outputs.last_hidden_state
            lengths = mask.sum(dim=1).tolist()
            for row, index in enumerate(chunk):
                states[index] = hidden[row, : int(lengths[row])].to("cpu", torch.float16).clone()
            advance(len(chunk))
    return [s for s in states if s is not None]


def pad_states(states: list[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length states into ``[B, L, d]`` float32 plus the ``[B, L]`` attention mask."""
    hidden = torch.nn.utils.rnn.pad_sequence(states, batch_first=True).to(device, torch.float32)
    mask = torch.zeros(hidden.shape[:2], dtype=torch.long, device=device)
    for row, state in enumerate(states):
        mask[row, : state.shape[0]] = 1
    return hidden, mask
