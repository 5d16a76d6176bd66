"""Train the compact xx->en translator on (xx, en) bitext and save a loadable HF folder.

The frozen encoder's outputs are computed once per sentence and reused every epoch, so an
epoch costs only the small decoder. The folder is written atomically: the model, both
tokenizers, ``clir_calib_nmt.json``, ``train_config.json``, ``log.jsonl``, ``result.json`` and
a README model card. Validation BLEU/chrF come from translating val with the *saved* folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from clir_calib.atomic import atomic_dir, write_json, write_text
from clir_calib.config import E5_SMALL
from clir_calib.errors import ConfigError, DataError, NumericalError
from clir_calib_nmt.architecture import (
    DecoderSize,
    build_translation_model,
    keep_lower_layers,
    load_encoder,
    resolve_encoder,
    train_target_tokenizer,
    trainable_parameters,
)
from clir_calib_nmt.encoding import encode_frozen, pad_states
from clir_calib_nmt.languages import encoder_languages
from clir_calib_nmt.progress import progress_bar
from clir_calib_nmt.scoring import translation_scores
from clir_calib_nmt.translator import (
    METADATA_FILE,
    TARGET_TOKENIZER_DIR,
    GenerationSettings,
    Seq2SeqTranslator,
)

logger = logging.getLogger(__name__)
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

    t0 = time.perf_counter()
    kw: dict[str, Any] = {
        "max_length": config.max_length,
        "batch_size": config.encode_batch_size,
        "device": device,
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
    train_labels = _label_ids(target_tokenizer, train.target, config.max_length)
    val_labels = _label_ids(target_tokenizer, val.target, config.max_length)

    batches_per_epoch = -(-len(train.source) // config.batch_size)
    total_steps = config.epochs * batches_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    params = trainable_parameters(model)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
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
            for batch in _length_bucketed_batches(train_states, config.batch_size, rng):
                if step >= total_steps:
                    break
                loss = _loss(
                    model, train_states, train_labels, batch, target_tokenizer, device, config.label_smoothing
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
            val_loss = _validation_loss(model, val_states, val_labels, target_tokenizer, device, config)
            _record(log, {"epoch": epoch + 1, "step": step, "val_loss": round(val_loss, 4)})
            _keep_snapshot(snapshots, EpochSnapshot(epoch + 1, val_loss, _trainable_state(model)), config)
            epochs_run = epoch + 1
            if step >= total_steps:
                break
    selection = _select_weights(model, snapshots, config)
    selection["val_loss"] = round(
        _validation_loss(model, val_states, val_labels, target_tokenizer, device, config), 4
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


@dataclass
class EpochSnapshot:
    """The trainable (decoder) weights at the end of one epoch, with that epoch's validation loss."""

    epoch: int
    val_loss: float
    state: dict[str, torch.Tensor]


def _trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


def _keep_snapshot(snapshots: list[EpochSnapshot], snapshot: EpochSnapshot, config: NmtTrainConfig) -> None:
    """Keep what the selection needs: the best epoch so far (best), or the last ``average_last`` (average, last)."""
    if config.select == "best":
        if not snapshots or snapshot.val_loss < snapshots[0].val_loss:
            snapshots[:] = [snapshot]
        return
    snapshots.append(snapshot)
    del snapshots[: -(config.average_last if config.select == "average" else 1)]


def _select_weights(model: Any, snapshots: list[EpochSnapshot], config: NmtTrainConfig) -> dict[str, Any]:
    """Load the selected decoder weights into ``model``: the element-wise mean of the kept epochs' weights
    (checkpoint averaging, Vaswani et al. 2017), the lowest-val-loss epoch, or the last one."""
    if not snapshots:
        raise NumericalError("nmt-train: no epoch finished, so there are no weights to save; raise --max-steps")
    names = list(snapshots[0].state)
    averaged = {name: torch.stack([s.state[name].float() for s in snapshots]).mean(0) for name in names}
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in averaged.items():
            parameters[name].copy_(value.to(parameters[name].device, parameters[name].dtype))
    return {"select": config.select, "epochs": [s.epoch for s in snapshots],
            "epoch_val_losses": [round(s.val_loss, 4) for s in snapshots]}


def _record(log: list[dict[str, Any]], row: dict[str, Any]) -> None:
    log.append(row)
    logger.info("nmt-train %s", json.dumps(row))


def _label_ids(tokenizer: Any, texts: list[str], max_length: int) -> list[torch.Tensor]:
    encoded = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return [torch.tensor(ids, dtype=torch.long) for ids in encoded]


def _length_bucketed_batches(
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


def _loss(
    model: Any,
    states: list[torch.Tensor],
    labels: list[torch.Tensor],
    batch: list[int],
    target_tokenizer: Any,
    device: torch.device,
    label_smoothing: float,
) -> torch.Tensor:
    from transformers.modeling_outputs import BaseModelOutput

    hidden, mask = pad_states([states[i] for i in batch], device)
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


def _validation_loss(
    model: Any,
    states: list[torch.Tensor],
    labels: list[torch.Tensor],
    target_tokenizer: Any,
    device: torch.device,
    config: NmtTrainConfig,
) -> float:
    model.decoder.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(states), config.batch_size):
            batch = list(range(start, min(start + config.batch_size, len(states))))
            loss = _loss(model, states, labels, batch, target_tokenizer, device, 0.0)
            total += loss.item() * len(batch)
            count += len(batch)
    model.decoder.train()
    return total / max(1, count)


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
