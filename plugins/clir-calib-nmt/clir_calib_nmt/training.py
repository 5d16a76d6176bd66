"""Train the compact xx->en translator on (xx, en) bitext and save a loadable HF folder.

The frozen encoder's outputs are computed once per sentence and reused every epoch, so an
epoch costs only the small decoder. The folder is written atomically: the model, both
tokenizers, ``clir_calib_nmt.json``, ``train_config.json``, ``log.jsonl``, ``result.json`` and
a README model card. Validation BLEU/chrF come from translating val with the *saved* folder.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clir_calib.atomic import atomic_dir, write_json, write_text
from clir_calib.distill.student import adamw
from clir_calib.errors import ConfigError, NumericalError
from clir_calib_nmt.architecture import (
    build_translation_model,
    keep_lower_layers,
    load_encoder,
    resolve_encoder,
    train_target_tokenizer,
    trainable_parameters,
    unfreeze_top_layers,
)
from clir_calib_nmt.checkpoints import EpochSnapshot, keep_snapshot, select_weights, trainable_state
from clir_calib_nmt.encoding import encode_frozen
from clir_calib_nmt.languages import encoder_languages
from clir_calib_nmt.progress import progress_bar
from clir_calib_nmt.recipe import NmtTrainConfig, Pairs
from clir_calib_nmt.scoring import translation_scores
from clir_calib_nmt.steps import (
    batch_loss,
    label_ids,
    length_bucketed_batches,
    top_layers_mode,
    validation_loss,
)
from clir_calib_nmt.translator import (
    METADATA_FILE,
    TARGET_TOKENIZER_DIR,
    GenerationSettings,
    Seq2SeqTranslator,
)

logger = logging.getLogger(__name__)


def train_from_prepared(
    prepared: Path, config: NmtTrainConfig, out: Path, overwrite: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train on ``prepared``'s ``config.lang`` bitext (train; val for validation) and save to ``out``."""
    from clir_calib.data.store import load_bitext

    if out.exists() and not overwrite:
        raise ConfigError(f"{out} already exists; pass --overwrite or choose another --out")
    train = load_bitext(prepared, config.lang, "train", max_pairs=config.max_pairs)
    val = load_bitext(prepared, config.lang, "val", max_pairs=config.val_pairs)
    return train_nmt(Pairs(list(train.xx), list(train.en)), Pairs(list(val.xx), list(val.en)), config, out,
                     encoder_folder=resolve_encoder(config.encoder), overwrite=overwrite, progress=progress)

def train_nmt(
    train: Pairs,
    val: Pairs,
    config: NmtTrainConfig,
    out: Path,
    encoder_folder: Path,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train, save to ``out`` atomically and return the result (also in ``out/result.json``)."""
    from clir_calib.models.device import resolve_device

    config.check()
    started = time.perf_counter()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    log: list[dict[str, Any]] = []

    encoder, source_tokenizer = load_encoder(encoder_folder)
    encoder = keep_lower_layers(encoder, config.encoder_layers)
    target_tokenizer = train_target_tokenizer(train.target, config.decoder.vocab_size)
    model = build_translation_model(encoder, target_tokenizer, config.decoder, config.max_length).to(device)
    model.encoder.eval()
    encoder_top = unfreeze_top_layers(model.encoder, config.train_encoder_layers)

    t0 = time.perf_counter()
    kw: dict[str, Any] = {
        "max_length": config.max_length,
        "batch_size": config.encode_batch_size,
        "device": device,
        "below_top": config.train_encoder_layers,
    }
    train_states = encode_frozen(model.encoder, source_tokenizer, train.source, progress=progress, **kw)
    val_states = encode_frozen(model.encoder, source_tokenizer, val.source, progress=False, **kw)
    encode_seconds = time.perf_counter() - t0
    logger.info(
        "cached encoder outputs of %d + %d sentences in %.1f s",
        len(train.source),
        len(val.source),
        encode_seconds,
    )
    train_labels = label_ids(target_tokenizer, train.target, config.max_length)
    val_labels = label_ids(target_tokenizer, val.target, config.max_length)

    batches_per_epoch = -(-len(train.source) // config.batch_size)
    total_steps = config.epochs * batches_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    params = trainable_parameters(model)
    top_ids = {id(p) for p in encoder_top}
    groups = [{"params": [p for p in params if id(p) not in top_ids], "lr": config.lr}]
    if encoder_top:
        groups.append({"params": encoder_top, "lr": config.encoder_lr})
    optimizer = adamw(groups, config.lr, weight_decay=config.weight_decay)
    warmup = max(1, int(config.warmup_ratio * total_steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    )
    rng = np.random.default_rng(config.seed)
    t0 = time.perf_counter()
    step = epochs_run = 0
    snapshots: list[EpochSnapshot] = []
    with progress_bar(progress, total_steps, f"training {config.lang}->en") as advance:
        for epoch in range(config.epochs):
            model.decoder.train()
            top_layers_mode(model, config, train=True)
            for batch in length_bucketed_batches(train_states, config.batch_size, rng):
                if step >= total_steps:
                    break
                loss = batch_loss(
                    model, train_states, train_labels, batch, target_tokenizer, device, config.label_smoothing,
                    config.train_encoder_layers,
                )
                if not torch.isfinite(loss):
                    raise NumericalError(f"nmt-train: loss became {loss.item()} at step {step}; lower --lr")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                schedule.step()
                step += 1
                advance(1)
                if step % config.log_every == 0 or step == total_steps:
                    _record(
                        log,
                        {
                            "step": step,
                            "epoch": epoch + 1,
                            "loss": round(loss.item(), 4),
                            "lr": schedule.get_last_lr()[0],
                            "elapsed_s": round(time.perf_counter() - t0, 1),
                        },
                    )
            val_loss = validation_loss(model, val_states, val_labels, target_tokenizer, device, config)
            _record(log, {"epoch": epoch + 1, "step": step, "val_loss": round(val_loss, 4)})
            keep_snapshot(snapshots, EpochSnapshot(epoch + 1, val_loss, trainable_state(model)), config)
            epochs_run = epoch + 1
            if step >= total_steps:
                break
    selection = select_weights(model, snapshots, config)
    selection["val_loss"] = round(
        validation_loss(model, val_states, val_labels, target_tokenizer, device, config), 4
    )
    _record(log, {"selected": selection})
    train_seconds = time.perf_counter() - t0

    with atomic_dir(out, overwrite=overwrite) as folder:
        model.save_pretrained(folder)
        source_tokenizer.save_pretrained(folder)
        target_tokenizer.save_pretrained(folder / TARGET_TOKENIZER_DIR)
        write_json(
            folder / METADATA_FILE,
            {
                "source_lang": config.lang,
                "target_lang": "en",
                "encoder": config.encoder,
                "encoder_languages": encoder_languages(config.encoder, config.lang, config.encoder_languages),
                "target_tokenizer": TARGET_TOKENIZER_DIR,
                "created_by": "clir-calib nmt-train",
            },
        )
        write_json(folder / "train_config.json", asdict(config))
        t0 = time.perf_counter()
        settings = GenerationSettings(
            num_beams=config.eval_beams,
            batch_size=config.encode_batch_size // 2 or 1,
            max_length=config.max_length,
        )
        translator = Seq2SeqTranslator.load(folder, device=device, settings=settings)
        hypotheses = translator.translate(val.source, progress=progress)
        scores = translation_scores(hypotheses, val.target)
        eval_seconds = time.perf_counter() - t0
        log.append({"val_bleu": scores["bleu"], "val_chrf": scores["chrf"], "beams": config.eval_beams})
        write_text(folder / "log.jsonl", "".join(json.dumps(row) + "\n" for row in log))
        write_text(folder / "val_translations.txt", "".join(h.replace("\n", " ") + "\n" for h in hypotheses))
        result = {
            "lang": config.lang,
            "val": scores,
            "train_pairs": len(train.source),
            "steps": step,
            "epochs_run": epochs_run,
            "final_val_loss": next((r["val_loss"] for r in reversed(log) if "val_loss" in r), None),
            "selected": selection,
            "trainable_parameters": sum(p.numel() for p in params),
            "total_parameters": sum(p.numel() for p in model.parameters()),
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "encode_seconds": round(encode_seconds, 1),
            "train_seconds": round(train_seconds, 1),
            "eval_seconds": round(eval_seconds, 1),
            "total_seconds": round(time.perf_counter() - started, 1),
        }
        write_json(folder / "result.json", result)
        write_text(folder / "README.md", _model_card(config, result))
    return {**result, "out": str(out)}

def _record(log: list[dict[str, Any]], row: dict[str, Any]) -> None:
    log.append(row)
    logger.info("nmt-train %s", json.dumps(row))

def _model_card(config: NmtTrainConfig, result: dict[str, Any]) -> str:
    val = result["val"]
    return (
        f"# clir-calib NMT model {config.lang}->en\n\n"
        f"Trained by `clir-calib nmt-train` on {result['train_pairs']} Multi30k ({config.lang}, en) pairs: "
        f"encoder `{config.encoder}` (frozen), a random {config.decoder.layers}-layer, {config.decoder.hidden}-wide "
        f"BERT decoder with cross-attention over an English BPE vocabulary of {config.decoder.vocab_size}.\n\n"
        f"Validation ({val['sentences']} sentences, beam {config.eval_beams}): BLEU {val['bleu']}, chrF {val['chrf']} "
        f"(sacrebleu `{val['bleu_signature']}`, `{val['chrf_signature']}`).\n\n"
        f"{result['steps']} steps in {result['train_seconds']} s (+{result['encode_seconds']} s caching encoder "
        f"outputs) on {result['device']}.\n\nLoad with `AutoModelForSeq2SeqLM.from_pretrained(folder)`; decode "
        f"targets with the tokenizer in `{TARGET_TOKENIZER_DIR}/`. Use as the `nmt` baseline: "
        f"`params: {{models: {{{config.lang}: <this folder>}}}}`.\n"
    )
