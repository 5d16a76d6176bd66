"""Benchmark: a study from an empty output folder, broken down by stage, over repeats.

The model is converted first (outside the timing, as a user's second study would find it), then the study runs
``--repeats`` times, each into a fresh temporary folder and, by default, in a **fresh Python process**, as
``clir-calib run CONFIG`` runs it: the wall time includes the interpreter's start, the imports and the first
tokenizer build. ``--in-process`` runs every repeat in this process instead (imports and the shared tokenizer
then cost only the first repeat; the figures of the earlier versions of this benchmark). ``--compare-to WORKTREE``
alternates each repeat with the same study run by another checkout of clir-calib (``PYTHONPATH=WORKTREE``, e.g. a
``git worktree`` of the previous version), so that both sides see the same machine; ``--compare-set`` gives the
compared side other overrides (e.g. another executor, on this checkout). With either, the ratio of the medians is
printed too.

Printed: the median wall time with its range over the repeats, CPU time, each stage's seconds (median) and the
ratio of the median wall time to the target (< 1 meets it; the targets: the quick study in 90 s, the default study
in 30 min, on the idle 2-core CPU).

    python bench/study_time.py [--config configs/quick.yaml] [--target-s 90] [--repeats 3] [--in-process]
                               [--compare-to WORKTREE] [--set KEY=VALUE ...] [--compare-set KEY=VALUE ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quick.yaml")
    parser.add_argument("--target-s", type=float, default=90.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="every repeat in this process (warm after the first)")
    parser.add_argument("--compare-to", default=None, help="another checkout: its study alternates with this one's")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--keep", action="store_true", help="keep each repeat's study folder (1.5-7 GB each)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a dotted config override, repeatable (e.g. --set executor=processes)")
    parser.add_argument("--compare-set", action="append", default=None, metavar="KEY=VALUE",
                        help="the compared side's overrides instead of --set (with or without --compare-to)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: one repeat into this folder
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_stage_seconds(_run_study(args.config, Path(args.one), args.set))))
        return

    from clir_calib.config import load_config
    from clir_calib.models.resolution import resolve_model

    cfg = load_config(args.config, args.set)
    for encoder in (cfg.models.teacher, cfg.models.student):
        resolve_model(encoder.name)  # converted once, outside the timing
    sides = {"this": (REPO, args.set)}
    if args.compare_to or args.compare_set is not None:
        sides["compared"] = (Path(args.compare_to or REPO).resolve(),
                             args.set if args.compare_set is None else args.compare_set)
    load_before = os.getloadavg()[0]
    measured: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(args.repeats):
        for side, (checkout, overrides) in sides.items():
            measured[side].append(_repeat(args, checkout, overrides, in_process=args.in_process and side == "this"))
    report = {"config": args.config, "overrides": args.set, "repeats": args.repeats,
              "mode": "in-process" if args.in_process else "fresh process per repeat",
              **_summary(measured["this"], args.target_s),
              "load_average_before": load_before, "load_average_after": os.getloadavg()[0], "cpus": os.cpu_count()}
    if "compared" in sides:
        other = _summary(measured["compared"], args.target_s)
        report["compared_to"] = {"checkout": str(sides["compared"][0]), "overrides": sides["compared"][1], **other}
        report["wall_over_compared"] = round(report["wall_s"] / other["wall_s"], 3)
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    if not args.json:
        print(f"{args.config}: median {report['wall_s']:.0f} s wall {report['wall_range_s']} over {args.repeats} "
              f"repeats ({report['wall_over_target']:.2f}x the {args.target_s:.0f} s target)", file=sys.stderr)


def _repeat(args: argparse.Namespace, checkout: Path, overrides: list[str], in_process: bool) -> dict[str, Any]:
    """One study from an empty folder: wall and CPU seconds, and seconds per stage and per run."""
    out = Path(tempfile.mkdtemp(prefix="bench-study-")) / "study"
    try:
        started = time.perf_counter()
        if in_process:
            cpu_started = time.process_time()
            seconds = _stage_seconds(_run_study(args.config, out, overrides))
            cpu = time.process_time() - cpu_started
        else:
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            env = {**os.environ, "PYTHONPATH": str(checkout)}
            done = subprocess.run([sys.executable, str(REPO / "bench" / "study_time.py"), "--config",
                                   str(REPO / args.config), "--one", str(out),
                                   *[f"--set={override}" for override in overrides]], cwd=checkout, env=env,
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"the study failed in {checkout}:\n{done.stderr[-2000:]}")
            seconds = json.loads(done.stdout.strip().splitlines()[-1])
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
        wall = time.perf_counter() - started
    finally:
        if not args.keep:
            shutil.rmtree(out.parent, ignore_errors=True)  # a repeat's models and caches: gigabytes each
    return {"wall": wall, "cpu": cpu, **seconds}


def _run_study(config: str, out: Path, overrides: list[str]) -> Any:
    from clir_calib.config import load_config
    from clir_calib.pipeline.study import run_study

    return run_study(load_config(config, [*overrides, f"output_dir={out}"]), progress=False)


def _stage_seconds(result: Any) -> dict[str, dict[str, float]]:
    stages: dict[str, float] = defaultdict(float)
    runs: dict[str, float] = {}
    for stage in result.stages:
        stages[stage.stage] += stage.seconds
        runs[f"{stage.stage}/{stage.label}"] = stage.seconds
    return {"stages": dict(stages), "runs": runs}


def _summary(repeats: list[dict[str, Any]], target_s: float) -> dict[str, Any]:
    walls = [r["wall"] for r in repeats]
    wall = statistics.median(walls)

    def medians(part: str) -> dict[str, float]:
        names = {name for r in repeats for name in r[part]}
        return {n: round(statistics.median(r[part].get(n, 0.0) for r in repeats), 1) for n in sorted(names)}

    return {"wall_s": round(wall, 1), "wall_range_s": [round(min(walls), 1), round(max(walls), 1)],
            "walls_s": [round(w, 1) for w in walls], "cpu_s": round(statistics.median(r["cpu"] for r in repeats), 1),
            "target_s": target_s, "wall_over_target": round(wall / target_s, 3),
            "stages_s": medians("stages"), "runs_s": medians("runs")}


if __name__ == "__main__":
    main()
