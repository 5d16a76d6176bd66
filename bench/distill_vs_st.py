"""Benchmark: a clir-calib MSE distillation step against sentence-transformers' own recipe.

Both sides train the same e5-small folder on the same Multi30k en-de pairs, batch size, sequence
length, learning-rate schedule and thread count, on the CPU:

* **ours**: ``clir_calib.distill.distill`` with ``--loss mse`` (teacher outputs from the teacher
  store, computed before training, as the labels are on the other side);
* **theirs**: ``SentenceTransformerTrainer`` with ``losses.MSELoss`` on a dataset of
  ``(non_english, label)``, the labels being the teacher's embeddings of the English side (the
  make_multilingual set-up, here with the translated column only, which is what ours trains).
  Word embeddings are frozen on both sides (clir-calib's default), so both run AdamW over the same
  parameters.

A step's time is the interval between the ends of two consecutive optimizer steps (data loading and
tokenisation included on both sides), median over the steady state. Reported: the speed-up
(their step / our step; > 1 means ours is faster) and an OT step over an MSE step (ours).

    python bench/distill_vs_st.py [--data runs/data/multi30k] [--steps 12] [--batch-size 32] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from clir_calib.config import E5_SMALL, load_config


def prepared_data(folder: str) -> str:
    """The prepared Multi30k folder; prepared into a temporary folder from the default source if absent."""
    if Path(folder, "bitext").is_dir():
        return folder
    from clir_calib.data import prepare_multi30k

    target = Path(tempfile.mkdtemp(prefix="bench-data-")) / "multi30k"
    prepare_multi30k(source=None, url=None, out=target, langs=["de"], splits=["train", "val"], overwrite=True)
    return str(target)


def steady_intervals(stamps: list[float], skip: int) -> list[float]:
    intervals = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return intervals[skip:] or intervals


def ours(cfg_overrides: list[str], out: Path, skip: int) -> tuple[list[float], Any]:
    from clir_calib.distill import distill

    stamps: list[float] = []
    cfg = load_config(None, cfg_overrides)
    result = distill(cfg, out, on_step=lambda step: stamps.append(time.perf_counter()))
    return steady_intervals(stamps[:-1], skip), result  # the last step also validates: left out


def theirs(model_folder: str, texts: list[str], labels: torch.Tensor, args: argparse.Namespace,
           out: Path, skip: int) -> list[float]:
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import TrainerCallback

    word = Transformer(model_folder, max_seq_length=args.max_length)
    model = SentenceTransformer(modules=[word, Pooling(word.get_embedding_dimension(), "mean"), Normalize()],
                                device="cpu")
    model[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    dataset = Dataset.from_dict({"non_english": texts, "label": labels.tolist()})
    stamps: list[float] = []

    class StepTimer(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, *_: Any, **__: Any) -> None:
            stamps.append(time.perf_counter())

    training = SentenceTransformerTrainingArguments(
        output_dir=str(out), per_device_train_batch_size=args.batch_size, max_steps=args.steps,
        learning_rate=2e-5, warmup_ratio=0.1, weight_decay=0.01, max_grad_norm=1.0, lr_scheduler_type="linear",
        logging_strategy="no", save_strategy="no", report_to=[], dataloader_num_workers=0, use_cpu=True,
        seed=13, disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(model=model, args=training, train_dataset=dataset,
                                         loss=losses.MSELoss(model), callbacks=[StepTimer()])
    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its metrics; --json keeps stdout to one object
        trainer.train()
    return steady_intervals(stamps, skip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="runs/data/multi30k", help="prepared data (clir-calib prepare)")
    parser.add_argument("--model", default=E5_SMALL)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--skip", type=int, default=2, help="warm-up intervals left out")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from clir_calib.data.store import load_bitext
    from clir_calib.distill.teacher_store import TeacherStore
    from clir_calib.models.encoder import Encoder

    data = prepared_data(args.data)
    pairs = args.steps * args.batch_size
    scratch = Path(tempfile.mkdtemp(prefix="bench-st-"))
    base = [f"models.teacher.name={args.model}", f"models.student.name={args.model}", f"data.prepared={data}",
            f"models.teacher.max_length={args.max_length}", f"models.student.max_length={args.max_length}",
            f"distill.batch_size={args.batch_size}", f"distill.max_pairs={pairs}", "distill.val_pairs=64",
            f"distill.eval_every={args.steps + 1}", f"distill.save_every={args.steps + 1}", "device=cpu",
            f"distill.teacher_cache={scratch / 'teacher'}", "distill.lr=2e-5"]
    cfg = load_config(None, base)
    teacher = Encoder.load(cfg.models.teacher, device="cpu")
    bitext = load_bitext(data, "de", "train", max_pairs=pairs)
    store = TeacherStore(scratch / "teacher", teacher, "passage")
    store.ensure(bitext.en)  # labels for theirs; the same store serves ours (outside the timing)
    labels = store.pooled(bitext.en)
    texts = [teacher.prefix("passage") + text for text in bitext.xx]

    mse, _ = ours([*base, "distill.losses=[mse]"], scratch / "ours-mse", args.skip)
    st = theirs(str(teacher.folder), texts, labels, args, scratch / "theirs", args.skip)
    ot, _ = ours([*base, "distill.losses=[ot]"], scratch / "ours-ot", args.skip)
    mse_again, _ = ours([*base, "distill.losses=[mse]"], scratch / "ours-mse-2", args.skip)
    ours_mse = statistics.median(mse + mse_again)
    result = {
        "speedup_vs_sentence_transformers": statistics.median(st) / ours_mse,
        "ot_step_over_mse_step": statistics.median(ot) / ours_mse,
        "ours_mse_step_s": ours_mse, "theirs_mse_step_s": statistics.median(st), "ours_ot_step_s": statistics.median(ot),
        "steps": args.steps, "batch_size": args.batch_size, "max_length": args.max_length, "threads": args.threads,
        "model": str(teacher.folder), "load_average": os.getloadavg()[0],
        "intervals": {"ours_mse": mse + mse_again, "theirs_mse": st, "ours_ot": ot},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(json.dumps(result, indent=2))
    print(f"MSE step: ours {ours_mse:.3f} s, sentence-transformers {result['theirs_mse_step_s']:.3f} s -> "
          f"speed-up {result['speedup_vs_sentence_transformers']:.2f}x (target >= 1.0); OT step / MSE step "
          f"{result['ot_step_over_mse_step']:.3f} (target <= 1.10)", file=sys.stderr)


if __name__ == "__main__":
    main()
