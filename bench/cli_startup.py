"""CLI start-up: ``clir-calib --help`` against ``python -c pass``, measured in the same run.

Every command pays the start-up before it does anything, so ``--help``, a typo and every real command wait
for it. Both sides run as fresh processes, interleaved (one of each per round), so a busy machine slows both
alike; the ratio's median and its spread over the rounds are printed, with the absolute times.

Run: ``python bench/cli_startup.py [--rounds 15]``. Target: ``--help`` under 1 s on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    baseline_cmd = [sys.executable, "-c", "pass"]
    help_cmd = [sys.executable, "-m", "clir_calib", "--help"]
    timed(help_cmd)  # warm the file-system cache once
    baseline, cli = [], []
    for _ in range(args.rounds):
        baseline.append(timed(baseline_cmd))
        cli.append(timed(help_cmd))
    ratios = sorted(c / b for c, b in zip(cli, baseline, strict=True))
    low, high = ratios[len(ratios) // 10], ratios[-1 - len(ratios) // 10]
    print(f"python -c pass:        median {statistics.median(baseline) * 1000:.0f} ms")
    print(f"clir-calib --help:     median {statistics.median(cli) * 1000:.0f} ms "
          f"(min {min(cli) * 1000:.0f}, max {max(cli) * 1000:.0f})")
    print(f"ratio --help / pass:   median {statistics.median(ratios):.1f}x "
          f"(10th-90th percentile {low:.1f}x-{high:.1f}x over {args.rounds} rounds)")


if __name__ == "__main__":
    main()
