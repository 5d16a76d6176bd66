"""Calibration metrics for binary events: a confidence in [0, 1] against whether it came true.

ECE is measured with two binnings because the equal-width estimate is dominated by whichever bins
hold most of the mass (retrieval confidences pile up near 0 or 1), while the equal-mass estimate
puts the same number of predictions in every bin (Nixon et al. 2019, "Measuring Calibration in
Deep Learning"). Conventions:

* equal-width bins are ``(lower, upper]`` with the first bin closed, so a confidence of exactly 0
  falls in the first bin and exactly 1 in the last; empty bins count zero towards ECE and MCE;
* equal-mass bins split the sorted confidences into ``bins`` runs of (nearly) equal size, but a run
  of tied confidences is never split across bins, so there may be fewer bins than asked for;
  internal edges lie half-way between neighbouring bins' extreme values;
* MCE is the largest ``|accuracy - mean confidence|`` over the non-empty equal-width bins;
* NLL is the mean binary cross-entropy with confidences clipped to ``[NLL_EPS, 1 - NLL_EPS]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clir_calib.errors import DataError, NumericalError

NLL_EPS = 1e-12
#: confidences this far outside [0, 1] are float rounding and are clipped; further out is an error
RANGE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class BinTable:
    """Per bin: edges, how many predictions, their mean confidence and accuracy (None when empty)."""

    lower: list[float]
    upper: list[float]
    count: list[int]
    mean_confidence: list[float | None]
    accuracy: list[float | None]

    def __len__(self) -> int:
        return len(self.count)

    def gaps(self) -> list[float | None]:
        """``accuracy - mean confidence`` per bin (None when empty)."""
        return [
            None if a is None or c is None else a - c
            for a, c in zip(self.accuracy, self.mean_confidence, strict=True)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "lower": self.lower,
            "upper": self.upper,
            "count": self.count,
            "mean_confidence": self.mean_confidence,
            "accuracy": self.accuracy,
        }


@dataclass(frozen=True)
class CalibrationReport:
    """All calibration numbers for one set of (confidence, correct) pairs."""

    ece_equal_width: float
    ece_equal_mass: float
    mce: float
    brier: float
    nll: float
    n: int
    accuracy: float
    mean_confidence: float
    bins: int
    equal_width: BinTable
    equal_mass: BinTable
    cb_ece: float = float("nan")  # class-balanced ECE; NaN (JSON null) when one class is absent

    def to_dict(self, with_bins: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ece_equal_width": self.ece_equal_width,
            "ece_equal_mass": self.ece_equal_mass,
            "mce": self.mce,
            "brier": self.brier,
            "nll": self.nll,
            "cb_ece": self.cb_ece if math.isfinite(self.cb_ece) else None,
            "n": self.n,
            "accuracy": self.accuracy,
            "mean_confidence": self.mean_confidence,
            "bins": self.bins,
        }
        if with_bins:
            data["equal_width_bins"] = self.equal_width.to_dict()
            data["equal_mass_bins"] = self.equal_mass.to_dict()
        return data

    def summary(self) -> dict[str, float]:
        """The scalar metrics only (for tables)."""
        return {
            "ece_equal_width": self.ece_equal_width,
            "ece_equal_mass": self.ece_equal_mass,
            "mce": self.mce,
            "brier": self.brier,
            "nll": self.nll,
        }


def check_confidences(confidences: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 confidences in [0, 1] and 0/1 outcomes of the same length."""
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    hits = np.asarray(correct).reshape(-1)
    if conf.shape != hits.shape:
        raise DataError(
            f"confidences ({conf.size}) and correctness labels ({hits.size}) differ in length; pass one label per confidence"
        )
    if conf.size == 0:
        raise DataError("no predictions to measure calibration on; the scored run is empty")
    if not np.isfinite(conf).all():
        bad = int((~np.isfinite(conf)).sum())
        raise NumericalError(f"{bad} confidence(s) are NaN or inf; check the scores and the calibrator that produced them")
    if conf.min() < -RANGE_TOLERANCE or conf.max() > 1 + RANGE_TOLERANCE:
        raise NumericalError(
            f"confidences must lie in [0, 1], got range [{conf.min():.6g}, {conf.max():.6g}]; map scores to probabilities first"
        )
    conf = np.clip(conf, 0.0, 1.0)
    if hits.dtype == bool:
        hits = hits.astype(np.float64)
    else:
        hits = hits.astype(np.float64)
        if not np.isin(hits, (0.0, 1.0)).all():
            raise DataError("correctness labels must be 0/1 (or booleans); got other values")
    return conf, hits


def equal_width_table(conf: np.ndarray, hits: np.ndarray, bins: int) -> BinTable:
    """Bins ``(k/B, (k+1)/B]`` (the first one closed at 0)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.searchsorted(edges[1:-1], conf, side="left")
    return _table(conf, hits, index, edges[:-1], edges[1:], bins)


def equal_mass_table(conf: np.ndarray, hits: np.ndarray, bins: int) -> BinTable:
    """Runs of the sorted confidences of (nearly) equal size; ties never straddle two bins."""
    order = np.argsort(conf, kind="stable")
    ordered = conf[order]
    n = ordered.size
    cuts: list[int] = []
    for i in range(1, bins):
        cut = int(round(i * n / bins))
        if 0 < cut < n and ordered[cut - 1] == ordered[cut]:
            cut = int(np.searchsorted(ordered, ordered[cut - 1], side="right"))
        if 0 < cut < n and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    starts = [0, *cuts]
    ends = [*cuts, n]
    index = np.empty(n, dtype=np.int64)
    lowers: list[float] = []
    uppers: list[float] = []
    for b, (start, end) in enumerate(zip(starts, ends, strict=True)):
        index[order[start:end]] = b
        lowers.append(0.0 if start == 0 else float((ordered[start - 1] + ordered[start]) / 2))
        uppers.append(1.0 if end == n else float((ordered[end - 1] + ordered[end]) / 2))
    return _table(conf, hits, index, np.asarray(lowers), np.asarray(uppers), len(starts))


def _table(
    conf: np.ndarray, hits: np.ndarray, index: np.ndarray, lower: np.ndarray, upper: np.ndarray, bins: int
) -> BinTable:
    count = np.bincount(index, minlength=bins)
    conf_sum = np.bincount(index, weights=conf, minlength=bins)
    hit_sum = np.bincount(index, weights=hits, minlength=bins)
    mean_conf: list[float | None] = []
    accuracy: list[float | None] = []
    for b in range(bins):
        if count[b] == 0:
            mean_conf.append(None)
            accuracy.append(None)
        else:
            mean_conf.append(float(conf_sum[b] / count[b]))
            accuracy.append(float(hit_sum[b] / count[b]))
    return BinTable(
        lower=[float(x) for x in lower],
        upper=[float(x) for x in upper],
        count=[int(c) for c in count],
        mean_confidence=mean_conf,
        accuracy=accuracy,
    )


def expected_calibration_error(table: BinTable) -> float:
    """Sum over bins of (bin share) * |accuracy - mean confidence|."""
    total = sum(table.count)
    return float(
        sum(c / total * abs(g) for c, g in zip(table.count, table.gaps(), strict=True) if g is not None)
    )


def maximum_calibration_error(table: BinTable) -> float:
    """Largest |accuracy - mean confidence| over the non-empty bins."""
    return float(max(abs(g) for g in table.gaps() if g is not None))


def brier_score(conf: np.ndarray, hits: np.ndarray) -> float:
    return float(np.mean((conf - hits) ** 2))


def negative_log_likelihood(conf: np.ndarray, hits: np.ndarray) -> float:
    p = np.clip(conf, NLL_EPS, 1.0 - NLL_EPS)
    return float(-np.mean(hits * np.log(p) + (1.0 - hits) * np.log1p(-p)))


def class_balanced_ece(conf: np.ndarray, hits: np.ndarray) -> float:
    """CB-ECE (Yu et al. 2025): the ECE over the relevant pairs and the ECE over the non-relevant ones, averaged,
    so that the many non-relevant pairs do not decide a pointwise ECE alone. Within one class every bin's gap has
    the same sign, so each class's binned ECE is its mean distance to the label, at any binning:
    ``(mean(1 - p | relevant) + mean(p | non-relevant)) / 2``. Undefined (NaN) when a class is absent."""
    conf, hits = np.asarray(conf, dtype=np.float64).reshape(-1), np.asarray(hits, dtype=np.float64).reshape(-1)
    if not (hits > 0).any() or not (hits == 0).any():
        return float("nan")
    return float((np.mean(1.0 - conf[hits > 0]) + np.mean(conf[hits == 0])) / 2)


def calibration_report(
    confidences: Sequence[float] | np.ndarray, correct: Sequence[Any] | np.ndarray, bins: int = 15
) -> CalibrationReport:
    """ECE (equal-width and equal-mass), MCE, Brier, NLL and both bin tables.

    :param confidences: predicted probabilities that the event happens, each in [0, 1]
    :param correct: whether it happened (0/1 or booleans), one per confidence
    :param bins: number of bins for both binnings (equal-mass may merge bins made of ties)
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise DataError(f"bins must be a positive integer, got {bins!r}")
    conf, hits = check_confidences(confidences, correct)
    width = equal_width_table(conf, hits, int(bins))
    mass = equal_mass_table(conf, hits, int(bins))
    report = CalibrationReport(
        ece_equal_width=expected_calibration_error(width),
        ece_equal_mass=expected_calibration_error(mass),
        mce=maximum_calibration_error(width),
        brier=brier_score(conf, hits),
        nll=negative_log_likelihood(conf, hits),
        n=int(conf.size),
        accuracy=float(hits.mean()),
        mean_confidence=float(conf.mean()),
        bins=int(bins),
        equal_width=width,
        equal_mass=mass,
        cb_ece=class_balanced_ece(conf, hits),
    )
    for name, value in report.summary().items():
        if not math.isfinite(value):
            raise NumericalError(f"calibration metric {name} is not finite; check the confidences")
    return report
