"""CUDA check of distillation (run on a GPU machine): bf16 autocast, Accelerate launch, OT vs MSE step time.

Builds a fake Multi30k and a random model of multilingual-e5-small's shape (no downloads), then

1. runs ``distill`` through the library on CUDA (mixed_precision=auto -> bf16) and checks its outputs;
2. runs the same through ``accelerate launch -m clir_calib distill`` and checks it finished;
3. compares the OT loss under bf16 autocast on CUDA with fp32 on CPU, and epsilon=0.01 stays finite;
4. times a training step with ot against one with mse at batch 64 (``bench/distill_step.py --device cuda``).

    python bench/distill_cuda.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--dry-run-cpu", action="store_true", help="check this script itself on CPU")
    args = parser.parse_args()
    device = "cpu" if args.dry_run_cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine")
    from distill_step import random_e5_shaped
    from fixtures_data import make_multi30k

    from clir_calib.config import load_config
    from clir_calib.data import prepare_multi30k
    from clir_calib.distill import distill
    from clir_calib.losses.base import EncodedBatch
    from clir_calib.losses.ot import OTAlignmentLoss

    scratch = Path(tempfile.mkdtemp(prefix="distill-cuda-"))
    model = random_e5_shaped(scratch / "model")
    prepared = scratch / "prep"
    prepare_multi30k(prepared, source=make_multi30k(scratch / "m30k", n_train=256, n_val=64))
    gpu_name = torch.cuda.get_device_name(0) if device == "cuda" else "none (dry run on CPU)"
    results: dict[str, Any] = {"gpu": gpu_name, "torch": torch.__version__}
    base = [f"data.prepared={prepared}", f"models.teacher.name={model}", f"models.student.name={model}",
            "distill.batch_size=32", "distill.eval_every=4", "distill.save_every=4", "distill.lr=1e-4",
            "models.teacher.max_length=64", "models.student.max_length=64", f"device={device}"]

    # 1. library run on CUDA, bf16 autocast
    start = time.perf_counter()
    result = distill(load_config(None, [*base, "distill.losses=[ot, {name: mse, weight: 0.5}]"]), scratch / "run-lib")
    log = [json.loads(x) for x in (scratch / "run-lib" / "log.jsonl").read_text().splitlines()]
    results["library_run"] = {
        "seconds": round(time.perf_counter() - start, 2), "steps": result.steps,
        "val_before": result.val_accuracy_before, "val_after": result.val_accuracy_after,
        "log_steps": [r["step"] for r in log], "losses": [r.get("loss") for r in log],
        "finished": (scratch / "run-lib" / "result.json").is_file(),
    }

    # 2. accelerate launch
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
               "--mixed_precision", "bf16" if device == "cuda" else "no", "--dynamo_backend", "no",
               *(["--cpu"] if device == "cpu" else []), "-m", "clir_calib", "distill", "--lang", "de",
               "--loss", "ot", "--teacher", str(model), "--student", str(model), "--data", str(prepared),
               "--out", str(scratch / "run-launch"), "--no-progress", "--set", "distill.eval_every=4",
               "--set", "models.student.max_length=64", "--set", "models.teacher.max_length=64"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=_env())
    results["accelerate_launch"] = {
        "returncode": proc.returncode, "seconds": round(time.perf_counter() - start, 2),
        "finished": (scratch / "run-launch" / "result.json").is_file(), "stdout_tail": proc.stdout[-600:],
        "stderr_tail": proc.stderr[-1500:] if proc.returncode else "",
    }

    # 3. OT under bf16 autocast on CUDA vs fp32 on CPU; small epsilon
    generator = torch.Generator().manual_seed(0)
    states_s, states_t = torch.randn(64, 40, 384, generator=generator), torch.randn(64, 36, 384, generator=generator)
    mask_s = (torch.arange(40)[None] < torch.randint(5, 41, (64, 1), generator=generator)).long()
    mask_t = (torch.arange(36)[None] < torch.randint(5, 37, (64, 1), generator=generator)).long()
    cpu = OTAlignmentLoss()(EncodedBatch(states_s, mask_s, states_s[:, 0]), EncodedBatch(states_t, mask_t, states_t[:, 0]))
    leaf = states_s.to(device).requires_grad_(True)
    with torch.autocast(device, dtype=torch.bfloat16):
        projected = leaf @ torch.eye(384, device=device)  # bf16 under autocast, as encoder outputs are
        batch_s = EncodedBatch(projected, mask_s.to(device), projected[:, 0])
        batch_t = EncodedBatch(states_t.to(device).bfloat16(), mask_t.to(device), states_t[:, 0].to(device))
        gpu = OTAlignmentLoss()(batch_s, batch_t)
        small = OTAlignmentLoss(epsilon=0.01, max_iter=500)(batch_s, batch_t)
    (gpu + small).backward()
    results["ot_cuda_bf16"] = {
        "loss_cpu_fp32": float(cpu), "loss_cuda_bf16_inputs": float(gpu), "abs_diff": abs(float(cpu) - float(gpu)),
        "loss_dtype": str(gpu.dtype), "eps_0.01_finite": bool(torch.isfinite(small)),
        "grad_finite": bool(torch.isfinite(leaf.grad).all()),
    }

    # 4. step timing ot vs mse on CUDA
    bench = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "distill_step.py"), "--random-model", "--device", device,
         "--data", str(prepared), "--batch-size", "64", "--repeats", "10" if device == "cuda" else "1", "--json", str(scratch / "step.json")],
        capture_output=True, text=True, env=_env(),
    )
    results["step_bench_cuda"] = (
        json.loads((scratch / "step.json").read_text()) if bench.returncode == 0 else {"error": bench.stderr[-1500:]}
    )
    text = json.dumps(results, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
