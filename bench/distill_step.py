"""Benchmark: what does token-level OT cost in distillation? (CPU, one run, same model and batch)

(a) the OT loss alone (forward + backward) for one batch: the batched log-domain Sinkhorn of
    ``clir_calib.losses.ot`` against a per-pair Python loop of POT's ``ot.sinkhorn`` (torch backend)
    with the same epsilon, tolerance and iteration cap. Reported: the speed-up ratio.
(b) a full training step (teacher outputs from the store, student forward + backward, clipping, AdamW) with
    ``--loss ot`` against one with ``--loss mse``, through the trainer's own step function, the two
    interleaved so that load from other processes hits both alike. Target: OT step <= 1.15x MSE step.

    python bench/distill_step.py --data runs/data/multi30k [--batch-size 64] [--repeats 5]
    OMP_NUM_THREADS=1 python bench/distill_step.py ...   # CPU-time ratio robust to other processes
    python bench/distill_step.py --random-model --data PREP   # e5-small's shape, random weights
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from clir_calib.config import E5_SMALL, load_config
from clir_calib.losses.base import EncodedBatch
from clir_calib.losses.ot import OTAlignmentLoss


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - start)
    return times


def pot_loop_loss(student: EncodedBatch, teacher: EncodedBatch, epsilon: float, tol: float, max_iter: int) -> torch.Tensor:
    """The per-pair baseline: POT's ot.sinkhorn on each unpadded cost matrix, plan without gradient."""
    import ot

    total = student.token_states.new_zeros(())
    for k in range(student.token_states.shape[0]):
        s = student.token_states[k, student.attention_mask[k] != 0]
        t = teacher.token_states[k, teacher.attention_mask[k] != 0]
        cost = 1.0 - F.normalize(s, dim=-1) @ F.normalize(t, dim=-1).T
        a = torch.full((s.shape[0],), 1.0 / s.shape[0], device=s.device)
        b = torch.full((t.shape[0],), 1.0 / t.shape[0], device=t.device)
        plan = ot.sinkhorn(a, b, cost.detach(), epsilon, numItermax=max_iter, stopThr=tol)
        total = total + (plan * cost).sum()
    return total / student.token_states.shape[0]


def random_e5_shaped(folder: Path) -> Path:
    """A random BERT of multilingual-e5-small's shape (384 wide, 12 layers, 12 heads, FFN 1536)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from fixtures_models import make_tiny_model
    from transformers import BertConfig, BertModel

    make_tiny_model(folder)
    config = BertConfig.from_pretrained(folder)
    config.update({"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 1536})
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="runs/data/multi30k", help="prepared data folder (clir-calib prepare)")
    parser.add_argument("--model", default=E5_SMALL)
    parser.add_argument("--random-model", action="store_true", help="random weights of e5-small's shape")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    from clir_calib.data.store import load_bitext
    from clir_calib.distill.loop import TrainingLoop
    from clir_calib.distill.setup import DistillData
    from clir_calib.distill.student import Student
    from clir_calib.distill.trainer import make_accelerator
    from clir_calib.models.encoder import Encoder

    scratch = Path(tempfile.mkdtemp(prefix="bench-distill-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # students and checkpoints: gigabytes
    model = str(random_e5_shaped(scratch / "model")) if args.random_model else args.model
    base = [f"models.teacher.name={model}", f"models.student.name={model}", f"data.prepared={args.data}",
            f"models.teacher.max_length={args.max_length}", f"models.student.max_length={args.max_length}",
            f"distill.batch_size={args.batch_size}", f"device={args.device}", "distill.lang=de"]
    cfg = load_config(None, base)
    bitext = load_bitext(args.data, "de", "train", max_pairs=args.batch_size)
    data = DistillData(bitext, bitext)
    accelerator = make_accelerator(cfg)
    teacher = Encoder.load(cfg.models.teacher, device=accelerator.device)
    teacher.model.eval().requires_grad_(False)
    student = Student(Encoder.load(cfg.models.student, device=accelerator.device), teacher.hidden_size,
                      projection=False, freeze_embeddings=True)
    results: dict[str, Any] = {
        "model": "random weights, e5-small shape" if args.random_model else model, "batch_size": len(bitext),
        "max_length": args.max_length, "device": str(accelerator.device), "torch_threads": torch.get_num_threads(),
        "load_average_before": os.getloadavg()[0],
    }

    # (a) OT loss alone, on the batch's real token states
    with torch.no_grad():
        target = teacher.encode_batch(bitext.en, "passage")
        states = student.encoder.encode_batch(bitext.xx, "passage")
    tol, max_iter = 1e-4, 100
    leaf = states.token_states.detach().clone().requires_grad_(True)
    mine = EncodedBatch(leaf, states.attention_mask, states.pooled, states.special_tokens_mask)
    ot_loss = OTAlignmentLoss(epsilon=args.epsilon, tol=tol, max_iter=max_iter)

    def batched() -> float:
        leaf.grad = None
        loss = ot_loss(mine, target)
        loss.backward()
        return float(loss.detach())

    def looped() -> float:
        leaf.grad = None
        loss = pot_loop_loss(mine, target, args.epsilon, tol, max_iter)
        loss.backward()
        return float(loss.detach())

    batched_s = timed(batched, args.repeats)
    results["ot_loss_alone"] = {"batched_s": statistics.median(batched_s), "loss_batched": batched(),
                                "sinkhorn_iterations": ot_loss.last_info}
    if importlib.util.find_spec("ot") is None:
        results["ot_loss_alone"]["pot_per_pair_loop_s"] = "skipped: POT is not installed"
    else:
        looped_s = timed(looped, args.repeats)
        results["ot_loss_alone"].update({
            "pot_per_pair_loop_s": statistics.median(looped_s),
            "speedup": statistics.median(looped_s) / statistics.median(batched_s), "loss_pot_loop": looped(),
        })

    # (b) a full training step with ot against one with mse, interleaved
    loops = {}
    for name in ("ot", "mse"):
        step_cfg = load_config(None, [*base, f"distill.losses=[{name}]"])
        from clir_calib.losses.combined import CombinedAlignmentLoss

        loops[name] = TrainingLoop(step_cfg, scratch / name, accelerator, teacher, student,
                            CombinedAlignmentLoss(step_cfg.distill.losses), data, False, None)
    for loop in loops.values():
        loop.train_store.ensure(bitext.en)  # the teacher's outputs, as the trainer's run() prepares them
    group = [list(range(len(bitext)))]
    step_times: dict[str, list[float]] = {"ot": [], "mse": []}
    cpu_times: dict[str, list[float]] = {"ot": [], "mse": []}
    for name in ("ot", "mse"):
        loops[name]._step(group)  # warm-up
    for _ in range(args.repeats):
        for name in ("ot", "mse"):
            synchronize()
            start, start_cpu = time.perf_counter(), time.process_time()
            loops[name]._step(group)
            synchronize()
            step_times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - start_cpu)
    ot_step, mse_step = statistics.median(step_times["ot"]), statistics.median(step_times["mse"])
    results["training_step"] = {
        "ot_s": ot_step, "mse_s": mse_step, "ratio_ot_over_mse": ot_step / mse_step, "target_ratio": 1.15,
        # the fastest step is the least disturbed by other processes on a shared machine
        "ratio_of_fastest": min(step_times["ot"]) / min(step_times["mse"]),
        "ot_loss_share_of_mse_step": results["ot_loss_alone"]["batched_s"] / mse_step,
        # CPU seconds of this process: with one thread (OMP_NUM_THREADS=1) the work done, not the waiting
        "ot_cpu_s": statistics.median(cpu_times["ot"]), "mse_cpu_s": statistics.median(cpu_times["mse"]),
        "cpu_ratio_ot_over_mse": statistics.median(cpu_times["ot"]) / statistics.median(cpu_times["mse"]),
        "all_ot_s": step_times["ot"], "all_mse_s": step_times["mse"],
    }
    results["load_average_after"] = os.getloadavg()[0]
    text = json.dumps(results, indent=2)
    print(text)
    a, b = results["ot_loss_alone"], results["training_step"]
    if "speedup" in a:
        print(f"(a) OT loss alone, batch {len(bitext)}: batched {a['batched_s'] * 1e3:.1f} ms vs POT per-pair "
              f"loop {a['pot_per_pair_loop_s'] * 1e3:.1f} ms -> {a['speedup']:.1f}x faster")
    print(f"(b) training step (median): ot {b['ot_s']:.3f} s vs mse {b['mse_s']:.3f} s -> ratio "
          f"{b['ratio_ot_over_mse']:.3f} (target <= 1.15); fastest steps: {b['ratio_of_fastest']:.3f}; the OT loss "
          f"alone is {b['ot_loss_share_of_mse_step']:.1%} of an MSE step; CPU-time ratio "
          f"{b['cpu_ratio_ot_over_mse']:.3f} ({results['torch_threads']} thread(s))")
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
