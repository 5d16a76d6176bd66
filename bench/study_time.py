"""Benchmark: a study from an empty output folder, broken down by stage, over repeats.

The model is converted first (outside the timing, as a user's second study would find it), then
``clir-calib run CONFIG`` runs in-process into a fresh temporary folder, ``--repeats`` times. Printed: the
median wall time with its range over the repeats, CPU time, each stage's seconds (median) and the ratio of
the median wall time to the target (< 1 meets it; the targets: the quick study in 90 s, the default study
in 30 min, on the idle 2-core CPU).

    python bench/study_time.py [--config configs/quick.yaml] [--target-s 90] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quick.yaml")
    parser.add_argument("--target-s", type=float, default=90.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--keep", action="store_true", help="keep each repeat's study folder (1.5-7 GB each)")
    args = parser.parse_args()

    from clir_calib.config import load_config
    from clir_calib.models.resolution import resolve_model
    from clir_calib.pipeline.study import run_study

    cfg = load_config(args.config)
    for encoder in (cfg.models.teacher, cfg.models.student):
        resolve_model(encoder.name)  # converted once, outside the timing
    load_before = os.getloadavg()[0]
    walls: list[float] = []
    cpus: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    runs: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeats):
        out = Path(tempfile.mkdtemp(prefix="bench-study-")) / "study"
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run_study(load_config(args.config, [f"output_dir={out}"]), progress=False)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
        by_stage: dict[str, float] = defaultdict(float)
        for stage in result.stages:
            by_stage[stage.stage] += stage.seconds
            runs[f"{stage.stage}/{stage.label}"].append(stage.seconds)
        for name, seconds in by_stage.items():
            stages[name].append(seconds)
        if not args.keep:
            shutil.rmtree(out.parent, ignore_errors=True)  # a repeat's models and caches: gigabytes each
    wall = statistics.median(walls)
    report = {
        "config": args.config, "repeats": args.repeats, "wall_s": round(wall, 1),
        "wall_range_s": [round(min(walls), 1), round(max(walls), 1)], "walls_s": [round(w, 1) for w in walls],
        "cpu_s": round(statistics.median(cpus), 1), "target_s": args.target_s,
        "wall_over_target": round(wall / args.target_s, 3),
        "stages_s": {k: round(statistics.median(v), 1) for k, v in stages.items()},
        "runs_s": {k: round(statistics.median(v), 1) for k, v in runs.items()},
        "load_average_before": load_before, "load_average_after": os.getloadavg()[0], "cpus": os.cpu_count(),
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    if not args.json:
        print(f"{args.config}: median {wall:.0f} s wall [{min(walls):.0f}, {max(walls):.0f}] over {args.repeats} "
              f"repeats ({wall / args.target_s:.2f}x the {args.target_s:.0f} s target)", file=sys.stderr)


if __name__ == "__main__":
    main()
