"""Where evaluate's time goes: encoding, search, measuring (metrics, bootstraps), diagrams, files, and the rest.

Evaluates the config's base student (``methods[0]``'s encoders, no distillation) on every planned entry, with each
step wrapped by a timer in place, and prints wall seconds per step and the share of the total that is not encoding.
Encodings are cached under ``--index-dir``: an empty or new folder measures encoding cold; a second run with the
same folder measures everything else alone. The encoder's load is its own line (``model load``); the share is
given both with it outside encoding and inside.

Evaluate measures its entries on every core (helper processes, ``clir_calib.shared_work``), so by default
``measuring`` is the wall time of that shared step. ``--one-core`` measures in this process alone, as before
helpers, and then splits ``measuring`` into its parts (retrieval metrics and bootstrap, calibration bootstrap, bin
sensitivity, risk coverage).

Run: ``python bench/evaluate_split.py --prepared PREPARED/multi30k [--config configs/multi30k-methods.yaml]
[--index-dir DIR] [--one-core] [--json]`` (``PREPARED`` is a study's ``prepare/<key>`` folder or ``clir-calib
prepare``'s output).
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

#: (module, function, label): the steps of one evaluation, outermost first
STEPS = (
    ("clir_calib.evaluation.system", "load_system", "model load"),
    ("clir_calib.evaluation.evaluate", "encode_task", "encoding"),
    ("clir_calib.evaluation.evaluate", "top_k", "search"),
)
#: the two steps evaluate shares with helper processes (wall time), told apart by the function shared
SHARED = {"measure_entry": "measuring", "write_entry_job": "files and diagrams"}
#: with ``--one-core`` (everything in this process), the parts of the shared steps: of writing, then of measuring
WRITING_PARTS = (("clir_calib.evaluation.outputs", "reliability_diagram", "diagrams"),)
MEASURING_PARTS = (
    ("clir_calib.evaluation.measures", "per_query_metrics", "retrieval metrics"),
    ("clir_calib.evaluation.measures", "bootstrap_means", "retrieval bootstrap"),
    ("clir_calib.evaluation.measures", "bootstrap_pairs", "calibration bootstrap"),
    ("clir_calib.evaluation.measures", "bin_sensitivity", "bin sensitivity"),
    ("clir_calib.evaluation.measures", "risk_coverage_curve", "risk coverage"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", required=True, help="a prepared Multi30k folder")
    parser.add_argument("--config", default="configs/multi30k-methods.yaml")
    parser.add_argument("--index-dir", default=None, help="encoding cache (default: a new empty folder)")
    parser.add_argument("--one-core", action="store_true", help="measure in this process alone, step by step")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()

    import importlib

    from clir_calib.config import load_config
    from clir_calib.evaluation.evaluate import run_evaluation
    from clir_calib.shared_work import set_core_budget, usable_cores

    set_core_budget(1 if args.one_core else None)
    spent: dict[str, float] = defaultdict(float)
    for module_name, name, label in STEPS + (WRITING_PARTS + MEASURING_PARTS if args.one_core else ()):
        module = importlib.import_module(module_name)
        setattr(module, name, _timed(getattr(module, name), label, spent))
    shared = importlib.import_module("clir_calib.shared_work")
    share_work = shared.share_work

    def timed_share(call: Any, items: Any, first: Any = None) -> Any:
        return _timed(share_work, SHARED.get(call.__name__, "other shared"), spent)(call, items, first)

    shared.share_work = timed_share
    index_dir = args.index_dir or tempfile.mkdtemp(prefix="bench-index-")
    cfg = load_config(args.config, [f"data.prepared={args.prepared}", f"evaluate.index_dir={index_dir}", "device=cpu"])
    out = Path(tempfile.mkdtemp(prefix="bench-evaluate-")) / "eval"
    started = time.perf_counter()
    try:
        run_evaluation(cfg, out)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
        if args.index_dir is None:
            shutil.rmtree(index_dir, ignore_errors=True)  # a cache made for this run only
    total = time.perf_counter() - started
    if args.one_core:
        spent["files"] = spent.pop("files and diagrams") - spent["diagrams"]
        spent["measuring, other"] = spent.pop("measuring") - sum(spent[label] for _, _, label in MEASURING_PARTS)
    spent["other"] = total - sum(spent.values())
    encoding = spent["encoding"]
    report: dict[str, Any] = {
        "config": args.config, "index_dir": index_dir, "cores": 1 if args.one_core else usable_cores(),
        "total_s": round(total, 1),
        **{label: round(seconds, 1) for label, seconds in spent.items()},
        "not_encoding_share": round(1 - encoding / total, 3),
        "not_encoding_share_load_as_encoding": round(1 - (encoding + spent["model load"]) / total, 3),
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))


def _timed(function: Any, label: str, spent: dict[str, float]) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    return wrapper


if __name__ == "__main__":
    main()
