"""Study numbers over seeds: per-seed values, mean ± sd, and a two-level bootstrap between systems.

A distilled method is trained once per seed; its number in a table is the mean over seeds with the
standard deviation next to it. Differences between two systems are tested by a **two-level
bootstrap**: each round resamples the seeds of each system (with replacement), then the queries.
The query level costs nothing extra: every evaluation of a study uses the same bootstrap seed and
therefore the same query draws, and ``bootstrap.npz`` keeps each statistic on each draw, so round
``b`` of system A's seed ``s`` is paired with round ``b`` of system B. Round ``b``'s difference is
``mean over drawn seeds of A (draw b) - mean over drawn seeds of B (draw b)``. The interval is its
2.5-97.5 percentiles and the two-sided p-value ``2 min(P(d <= 0), P(d >= 0))``. A system without
randomness (``none``, baselines) has one "seed". Why this test: it is valid for statistics that are
not means over queries (ECE, smECE, AURC), it keeps the pairing by query, and it widens the
interval by the seed-to-seed spread, which a test on one seed ignores (Bouthillier et al. 2021).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.errors import DataError
from clir_calib.evaluation.outputs import read_bootstrap, read_entry_metrics
from clir_calib.pipeline.results import MethodOutputs

LEVEL = 0.95


@dataclass
class SystemRuns:
    """The evaluated runs of one system at one data size (one per seed)."""

    name: str
    pairs: int | None
    runs: list[MethodOutputs]

    @property
    def seeds(self) -> list[int | None]:
        return [run.seed for run in self.runs]

    @property
    def folders(self) -> list[Path]:
        return [run.eval_dir for run in self.runs if run.eval_dir is not None]


def group_runs(outputs: list[MethodOutputs]) -> list[SystemRuns]:
    """Runs grouped by (method, data size), in config order."""
    groups: dict[tuple[str, int | None], SystemRuns] = {}
    for run in outputs:
        if run.eval_dir is None:
            continue
        key = (run.display_name, run.pairs)
        groups.setdefault(key, SystemRuns(run.display_name, run.pairs, [])).runs.append(run)
    return list(groups.values())


def metric_value(folder: Path, task: str, lang: str, split: str, group: str, metric: str) -> float | None:
    """One number from an entry's ``metrics.json``: ``group`` is ``retrieval`` or a view name."""
    data = read_entry_metrics(folder, task, lang, split)
    if data is None:
        return None
    node = data["retrieval"] if group == "retrieval" else data.get("calibration", {}).get(group, {}).get("metrics", {})
    value = node.get(metric, {}).get("value")
    return None if value is None else float(value)


@dataclass
class SeedValues:
    """One system's per-seed values of a number, with mean and sd (sd is 0 for one seed)."""

    values: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else float("nan")

    @property
    def sd(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    def text(self, digits: int = 3) -> str:
        if not self.values:
            return "–"
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}" if len(self.values) > 1 else f"{self.mean:.{digits}f}"


def seed_values(system: SystemRuns, task: str, lang: str, split: str, group: str, metric: str) -> SeedValues:
    found = [metric_value(folder, task, lang, split, group, metric) for folder in system.folders]
    return SeedValues([v for v in found if v is not None])


@dataclass
class Difference:
    """``a - b`` of a number (mean over seeds), its two-level bootstrap interval and p-value."""

    value: float
    low: float | None
    high: float | None
    p_value: float | None
    rounds: int

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 1 - LEVEL

    def text(self, digits: int = 3) -> str:
        if self.low is None or self.high is None:
            return f"{self.value:+.{digits}f}"
        mark = " †" if self.significant else ""
        return f"{self.value:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]{mark}"

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "p_value": self.p_value,
                "rounds": self.rounds, "significant": self.significant}


def _samples(system: SystemRuns, task: str, lang: str, split: str, key: str) -> np.ndarray | None:
    rows = []
    for folder in system.folders:
        try:
            data = read_bootstrap(folder, task, lang, split)
        except DataError:
            return None
        if key not in data:
            return None
        rows.append(data[key])
    if not rows or len({r.shape for r in rows}) != 1:
        return None
    return np.stack(rows)  # [seeds, rounds]


def two_level_difference(
    a: SystemRuns, b: SystemRuns, task: str, lang: str, split: str, group: str, metric: str, seed: int = 0,
) -> Difference | None:
    """The two-level bootstrap of ``a - b`` (see the module docstring); None when a side is missing."""
    point_a = seed_values(a, task, lang, split, group, metric)
    point_b = seed_values(b, task, lang, split, group, metric)
    if not point_a.values or not point_b.values:
        return None
    key = f"{group}__{metric}"
    return two_level(point_a.mean - point_b.mean, _samples(a, task, lang, split, key),
                     _samples(b, task, lang, split, key), seed)


def two_level(observed: float, samples_a: np.ndarray | None, samples_b: np.ndarray | None, seed: int = 0) -> Difference:
    """``observed`` with its two-level bootstrap interval and p-value from per-seed samples ``[seeds, rounds]`` of
    each side (the same query draws in every round); no interval when a side has no samples."""
    if samples_a is None or samples_b is None or samples_a.shape[1] != samples_b.shape[1]:
        return Difference(observed, None, None, None, 0)
    rounds = samples_a.shape[1]
    rng = np.random.default_rng(seed)
    columns = np.arange(rounds)[:, None]
    draw_a = rng.integers(0, samples_a.shape[0], size=(rounds, samples_a.shape[0]))
    draw_b = rng.integers(0, samples_b.shape[0], size=(rounds, samples_b.shape[0]))
    diff = samples_a[draw_a, columns].mean(axis=1) - samples_b[draw_b, columns].mean(axis=1)
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return Difference(observed, None, None, None, 0)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(diff, [tail, 100 - tail])
    p_value = min(1.0, 2 * min(float(np.mean(diff <= 0)), float(np.mean(diff >= 0))))
    return Difference(observed, float(low), float(high), p_value, int(diff.size))


def per_seed_table(systems: list[SystemRuns], entries: list[tuple[str, str, str]],
                   numbers: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Flat records of every per-seed value (for ``tables.json``)."""
    records = []
    for system in systems:
        for run in system.runs:
            if run.eval_dir is None:
                continue
            for task, lang, split in entries:
                for group, metric in numbers:
                    value = metric_value(run.eval_dir, task, lang, split, group, metric)
                    if value is not None:
                        records.append({"system": system.name, "pairs": system.pairs, "seed": run.seed,
                                        "task": task, "lang": lang, "split": split, "group": group,
                                        "metric": metric, "value": value})
    return records
