"""Benchmark: the quick study from an empty output folder, broken down by stage.

The model is converted first (outside the timing, as a user's second study would find it), then
``clir-calib run configs/quick.yaml`` runs in-process into a fresh temporary folder. Printed: wall
time, CPU time, each stage's seconds and the ratio of the wall time to the target (3 minutes on
the idle 2-core CPU; < 1 meets it).

    python bench/study_time.py [--config configs/quick.yaml] [--target-s 180] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quick.yaml")
    parser.add_argument("--target-s", type=float, default=180.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()

    from clir_calib.config import load_config
    from clir_calib.models.resolution import resolve_model
    from clir_calib.pipeline.study import run_study

    out = Path(tempfile.mkdtemp(prefix="bench-study-")) / "study"
    cfg = load_config(args.config, [f"output_dir={out}"])
    for encoder in (cfg.models.teacher, cfg.models.student):
        resolve_model(encoder.name)  # converted once, outside the timing
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    result = run_study(cfg, progress=False)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    by_stage: dict[str, float] = defaultdict(float)
    for stage in result.stages:
        by_stage[stage.stage] += stage.seconds
    report = {
        "config": args.config, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "target_s": args.target_s,
        "wall_over_target": round(wall / args.target_s, 3), "stages_s": {k: round(v, 1) for k, v in by_stage.items()},
        "runs_s": {f"{s.stage}/{s.label}": round(s.seconds, 1) for s in result.stages},
        "load_average_before": load_before, "load_average_after": os.getloadavg()[0], "cpus": os.cpu_count(),
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    if not args.json:
        print(f"quick study: {wall:.0f} s wall ({wall / args.target_s:.2f}x the {args.target_s:.0f} s target)",
              file=sys.stderr)


if __name__ == "__main__":
    main()
