"""What ``evaluate`` measures for one (task, language, split): the result types shared by its modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clir_calib.evaluation.bootstrap import Interval
from clir_calib.evaluation.views import ViewPairs
from clir_calib.metrics.calibration import CalibrationReport
from clir_calib.retrieval.scored import ScoredRun


@dataclass
class ViewResult:
    """One calibration view: its pairs, the full report and intervals for the scalar metrics."""

    pairs: ViewPairs
    report: CalibrationReport
    intervals: dict[str, Interval]
    bin_sensitivity: dict[str, dict[str, float]] = field(default_factory=dict)  # bins -> ECE-w/ECE-m
    risk_coverage: dict[str, list[float]] = field(default_factory=dict)  # coverage, risk (most confident first)


@dataclass
class EntryResult:
    """Everything measured for one (task, language, split)."""

    task: str
    lang: str
    split: str
    run: ScoredRun
    n_documents: int
    queries_skipped: int
    per_query: dict[str, np.ndarray]
    retrieval: dict[str, Interval]
    views: dict[str, ViewResult]
    timing: dict[str, float] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # the judgements the run was scored against
    baseline: dict[str, Any] = field(default_factory=dict)  # a document baseline's last_stats (model, BLEU...)
    diagnostics: dict[str, Any] = field(default_factory=dict)  # :func:`clir_calib.evaluation.diagnostics.score_diagnostics`
