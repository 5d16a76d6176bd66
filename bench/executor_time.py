"""Benchmark: a study under the ``local`` executor against a local Ray cluster, wall time and identical tables.

Both run the same config into fresh temporary folders (the model converted first, outside the timing): ``local``
in this process, then ``ray`` on a local cluster of ``--workers`` CPUs (``ray.init(num_cpus=...)``, each stage
asking for one CPU and running with ``--threads`` torch threads). Printed: each wall time, the ratio ray / local
(< 1: Ray is faster), and how far apart the two ``tables.json`` are (timings left out): every number the same up
to the largest absolute difference printed. Torch sums in another order with another thread count, so a stage
computed by a one-thread worker differs from the two-thread local run in the last digits (about 1e-7); the stage
keys, and so the reuse of finished stages across executors, do not depend on it. On a 2-core machine
two workers share the cores the local run had to itself, so the ratio shows Ray's overhead and what stage-level
parallelism buys on the machine, not a cluster's speed-up.

    python bench/executor_time.py [--config configs/quick.yaml] [--workers 2] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

TIMING_KEYS = ("seconds", "elapsed_s", "timing_s", "time_s", "wall_s")


def without_timings(value: Any) -> Any:
    """``value`` with every timing field (and the report's provenance of when and where) left out."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not any(t in str(k) for t in TIMING_KEYS)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def largest_difference(a: Any, b: Any) -> float:
    """The largest absolute difference between the numbers of two equally shaped JSON values (inf: shapes differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return max((largest_difference(a[k], b[k]) for k in a), default=0.0) if set(a) == set(b) else float("inf")
    if isinstance(a, list) and isinstance(b, list):
        return max((largest_difference(x, y) for x, y in zip(a, b, strict=True)), default=0.0) \
            if len(a) == len(b) else float("inf")
    a, b = _number(a), _number(b)  # a table cell printed from a number compares as that number
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        return 0.0 if a == b else float("inf")
    if a != a and b != b:  # both NaN
        return 0.0
    return abs(float(a) - float(b))


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def tables(study: Path) -> Any:
    return json.loads(next((study / "report").glob("report-*/tables.json")).read_text(encoding="utf-8"))


def timed_study(config: str, out: Path, executor: str, threads: int | None = None) -> float:
    from clir_calib.config import load_config
    from clir_calib.pipeline.study import run_study

    cfg = load_config(config, [f"output_dir={out}", f"executor={executor}"])
    started = time.perf_counter()
    run_study(cfg)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quick.yaml")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each Ray worker")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()

    import ray

    from clir_calib.config import load_config
    from clir_calib.models.resolution import resolve_model

    cfg = load_config(args.config)
    for encoder in (cfg.models.teacher, cfg.models.student):
        resolve_model(encoder.name)  # converted once, outside the timing
    scratch = Path(tempfile.mkdtemp(prefix="bench-executor-"))
    try:
        load_before = os.getloadavg()[0]
        local_s = timed_study(args.config, scratch / "local", "local")
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": str(args.threads)}})
        try:
            ray_s = timed_study(args.config, scratch / "ray", "ray")
        finally:
            ray.shutdown()
        largest = largest_difference(without_timings(tables(scratch / "local")), without_timings(tables(scratch / "ray")))
        result = {"config": args.config, "local_s": local_s, "ray_s": ray_s, "ray_over_local": ray_s / local_s,
                  "workers": args.workers, "threads_per_worker": args.threads, "cpus": os.cpu_count(),
                  "tables_largest_difference": largest, "load_average_before": load_before}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # two studies' models and caches
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.config}: local {local_s:.1f} s, ray ({args.workers} workers x {args.threads} thread) {ray_s:.1f} s "
          f"-> ray / local {ray_s / local_s:.2f}; tables.json: largest difference {largest:.2g} (timings aside)")


if __name__ == "__main__":
    main()
