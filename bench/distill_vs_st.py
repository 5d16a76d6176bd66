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

The two sides run **interleaved step by step**: each in its own thread, with a baton that lets one
optimizer step of one side run, then one of the other, so that both see the same machine state (load,
thermal state, caches) within a second of each other. Timed separately, the ratio moved by 20% between two
runs on the same idle machine; interleaved, a step's time is from the moment a side gets the baton to the
end of its next optimizer step (data loading and tokenisation included on both sides). Each repeat gives
the ratio of median steady-state steps; printed is the median ratio over ``--repeats`` with its range
(speed-up = their step / our step, > 1 means ours is faster), and in the same way an OT step over an
MSE step (ours against ours, interleaved).

Both sides train on **the same batches in the same order** (sentence-transformers' documented
``get_batch_sampler`` override hands its trainer clir-calib's batches): a step's time grows with its batch's
longest sentence (0.73 s at 35 tokens, 1.08 s at 44, batch 32), so with each trainer's own shuffle the ratio
measured the two samplers' draws as much as the two trainers (earlier figures: 1.005, 0.98, 0.80, 0.91).

    python bench/distill_vs_st.py [--data runs/data/multi30k] [--steps 12] [--repeats 3] [--batch-size 32] [--json]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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


class Baton:
    """Two sides take turns: a side runs only while it holds the baton, and hands it over after each step."""

    def __init__(self, first: str) -> None:
        self.turn = first
        self.finished: set[str] = set()
        self.condition = threading.Condition()

    def wait(self, me: str) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.turn == me)

    def hand_over(self, me: str, other: str) -> None:
        with self.condition:
            if other in self.finished:
                return
            self.turn = other
            self.condition.notify_all()
            self.condition.wait_for(lambda: self.turn == me)

    def finish(self, me: str, other: str) -> None:
        with self.condition:
            self.finished.add(me)
            self.turn = other
            self.condition.notify_all()


class StepClock:
    """One side's step times: from getting the baton to the end of its next optimizer step."""

    def __init__(self, baton: Baton, me: str, other: str) -> None:
        self.baton, self.me, self.other = baton, me, other
        self.steps: list[float] = []
        self.resumed = 0.0

    def start(self) -> None:
        self.baton.wait(self.me)
        self.resumed = time.perf_counter()

    def step_done(self) -> None:
        self.steps.append(time.perf_counter() - self.resumed)
        self.baton.hand_over(self.me, self.other)
        self.resumed = time.perf_counter()

    def steady(self, skip: int, drop_last: bool = False) -> list[float]:
        steps = self.steps[:-1] if drop_last else self.steps
        return steps[skip:] or steps


def interleaved(first: Callable[[StepClock], None], second: Callable[[StepClock], None]) -> tuple[StepClock, StepClock]:
    """Run two training functions step by step in turn (``first`` in a thread, ``second`` here)."""
    baton = Baton("a")
    clocks = StepClock(baton, "a", "b"), StepClock(baton, "b", "a")
    errors: list[BaseException] = []

    def side(run: Callable[[StepClock], None], clock: StepClock) -> None:
        clock.start()
        try:
            run(clock)
        except BaseException as error:  # re-raised in the main thread below
            errors.append(error)
        finally:
            baton.finish(clock.me, clock.other)

    thread = threading.Thread(target=side, args=(first, clocks[0]), daemon=True)
    thread.start()
    side(second, clocks[1])
    thread.join()
    if errors:
        raise errors[0]
    return clocks


def ours(cfg_overrides: list[str], out: Path) -> Callable[[StepClock], None]:
    """clir-calib's trainer; its last step also validates, so :meth:`StepClock.steady` drops it."""
    from clir_calib.distill import distill

    def run(clock: StepClock) -> None:
        distill(load_config(None, cfg_overrides), out, on_step=lambda step: clock.step_done())

    return run


def theirs(model_folder: str, texts: list[str], labels: torch.Tensor, args: argparse.Namespace,
           out: Path, batches: list[list[int]]) -> Callable[[StepClock], None]:
    """sentence-transformers' trainer with its MSE loss on the teacher's embeddings, on ``batches``."""

    def run(clock: StepClock) -> None:
        train_theirs(model_folder, texts, labels, args, out, clock, batches)

    return run


def train_theirs(model_folder: str, texts: list[str], labels: torch.Tensor, args: argparse.Namespace,
                 out: Path, clock: StepClock, batches: list[list[int]]) -> None:
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

    class StepTimer(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, *_: Any, **__: Any) -> None:
            clock.step_done()

    training = SentenceTransformerTrainingArguments(
        output_dir=str(out), per_device_train_batch_size=args.batch_size, max_steps=args.steps,
        learning_rate=2e-5, warmup_ratio=0.1, weight_decay=0.01, max_grad_norm=1.0, lr_scheduler_type="linear",
        logging_strategy="no", save_strategy="no", report_to=[], dataloader_num_workers=0, use_cpu=True,
        seed=13, disable_tqdm=True,
    )
    class SameBatches(SentenceTransformerTrainer):  # type: ignore[misc]
        def get_batch_sampler(self, *_: Any, **__: Any) -> list[list[int]]:
            return batches  # clir-calib's batches, in its order (the documented place to choose them)

    trainer = SameBatches(model=model, args=training, train_dataset=dataset, loss=losses.MSELoss(model),
                          callbacks=[StepTimer()])
    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its metrics; --json keeps stdout to one object
        trainer.train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="runs/data/multi30k", help="prepared data (clir-calib prepare)")
    parser.add_argument("--model", default=E5_SMALL)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--skip", type=int, default=2, help="warm-up steps left out")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each comparison")
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
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # students and checkpoints: gigabytes
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
    from clir_calib.distill.order import micro_batches

    batches = micro_batches(len(bitext), args.batch_size, cfg.seed, 0)  # ours, epoch 0: given to theirs too

    speedups: list[float] = []
    ot_ratios: list[float] = []
    steps: dict[str, list[float]] = {"ours_mse": [], "theirs_mse": [], "ours_ot": [], "ours_mse_vs_ot": []}
    for repeat in range(args.repeats):
        # alternate which side starts, so neither always runs right after the other's validation or set-up
        run_ours = ours([*base, "distill.losses=[mse]"], scratch / f"ours-mse-{repeat}")
        run_theirs = theirs(str(teacher.folder), texts, labels, args, scratch / f"theirs-{repeat}", batches)
        a, b = (run_ours, run_theirs) if repeat % 2 == 0 else (run_theirs, run_ours)
        clock_a, clock_b = interleaved(a, b)
        mine, their = (clock_a, clock_b) if repeat % 2 == 0 else (clock_b, clock_a)
        mse, st = mine.steady(args.skip, drop_last=True), their.steady(args.skip)
        speedups.append(statistics.median(st) / statistics.median(mse))
        steps["ours_mse"] += mse
        steps["theirs_mse"] += st
        run_ot = ours([*base, "distill.losses=[ot]"], scratch / f"ours-ot-{repeat}")
        run_mse = ours([*base, "distill.losses=[mse]"], scratch / f"ours-mse-b-{repeat}")
        a, b = (run_ot, run_mse) if repeat % 2 == 0 else (run_mse, run_ot)
        clock_a, clock_b = interleaved(a, b)
        ot_clock, mse_clock = (clock_a, clock_b) if repeat % 2 == 0 else (clock_b, clock_a)
        ot, mse = ot_clock.steady(args.skip, drop_last=True), mse_clock.steady(args.skip, drop_last=True)
        ot_ratios.append(statistics.median(ot) / statistics.median(mse))
        steps["ours_ot"] += ot
        steps["ours_mse_vs_ot"] += mse
    result = {
        "speedup_vs_sentence_transformers": spread(speedups),
        "ot_step_over_mse_step": spread(ot_ratios),
        "ours_mse_step_s": statistics.median(steps["ours_mse"]), "theirs_mse_step_s": statistics.median(steps["theirs_mse"]),
        "ours_ot_step_s": statistics.median(steps["ours_ot"]),
        "steps": args.steps, "repeats": args.repeats, "batch_size": args.batch_size, "max_length": args.max_length,
        "threads": args.threads, "model": str(teacher.folder), "load_average": os.getloadavg()[0],
        "step_times": steps,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(json.dumps(result, indent=2))
    speedup, ot_ratio = result["speedup_vs_sentence_transformers"], result["ot_step_over_mse_step"]
    print(f"MSE step: ours {result['ours_mse_step_s']:.3f} s, sentence-transformers {result['theirs_mse_step_s']:.3f} s "
          f"-> speed-up median {speedup['median']:.3f}x [{speedup['min']:.3f}, {speedup['max']:.3f}] over "
          f"{args.repeats} interleaved repeats (target >= 1.0); OT step / MSE step median {ot_ratio['median']:.3f} "
          f"[{ot_ratio['min']:.3f}, {ot_ratio['max']:.3f}] (target <= 1.10)", file=sys.stderr)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


if __name__ == "__main__":
    main()
