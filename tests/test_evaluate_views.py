"""Calibration views, bootstrap intervals and randomization tests on hand-made runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clir_calib.errors import ConfigError, DataError, NumericalError
from clir_calib.evaluation.bootstrap import bootstrap_means, bootstrap_statistic
from clir_calib.evaluation.significance import paired_randomization_statistic, paired_randomization_test
from clir_calib.evaluation.views import (
    calibrated_view,
    listwise_probabilities,
    pointwise_probabilities,
    raw_views,
)
from clir_calib.retrieval.scored import ScoredRun


def _run() -> ScoredRun:
    return ScoredRun(
        qids=["q1", "q2"],
        doc_ids=[["a", "b", "c"], ["c", "a", "b"]],
        scores=np.array([[0.9, 0.5, 0.1], [0.4, 0.4, 0.0]], dtype=np.float32),
        labels=np.array([[1, 0, 0], [0, 1, 0]], dtype=np.int8),
        n_relevant=np.array([1, 1], dtype=np.int32),
    )


def test_listwise_view_is_top1_softmax_against_top1_relevance() -> None:
    views = raw_views(_run(), temperature=0.5, depth=2)
    listwise = views["listwise"]
    e = [math.exp(x / 0.5) for x in (0.9, 0.5, 0.1)]
    assert listwise.confidences[:, 0].tolist() == pytest.approx([e[0] / sum(e), math.exp(0.8) / (2 * math.exp(0.8) + 1)])
    assert listwise.correct[:, 0].tolist() == [1, 0]
    report = listwise.report(bins=2)
    assert report.n == 2 and report.accuracy == 0.5


def test_pointwise_view_is_sigmoid_of_the_top_depth_pairs() -> None:
    views = raw_views(_run(), scale=10.0, bias=-5.0, depth=2)
    pointwise = views["pointwise"]
    assert pointwise.confidences.shape == (2, 2)
    expected = [[1 / (1 + math.exp(-(10 * s - 5))) for s in row] for row in ([0.9, 0.5], [0.4, 0.4])]
    np.testing.assert_allclose(pointwise.confidences, expected, rtol=1e-6)
    assert pointwise.correct.tolist() == [[1, 0], [0, 1]]
    assert raw_views(_run(), depth=50)["pointwise"].confidences.shape == (2, 3)  # depth capped at the run


def test_softmax_is_stable_and_sums_to_one() -> None:
    probs = listwise_probabilities(np.array([[1000.0, 999.0, -1000.0]]), temperature=0.01)
    assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0)
    assert probs[0, 0] == pytest.approx(1.0) and probs[0, 2] == 0.0  # confidence exactly 0 and ~1 are fine
    assert raw_views(_run(), temperature=1e-4)["listwise"].report(15).n == 2
    with pytest.raises(ConfigError):
        listwise_probabilities(np.zeros((1, 2)), temperature=0.0)
    with pytest.raises(ConfigError):
        pointwise_probabilities(np.zeros(2), scale=float("nan"))
    with pytest.raises(ConfigError):
        raw_views(_run(), depth=0)


class _Stub:
    """A calibrator stand-in with the calibrator contract: predict_proba(scores, groups), model_view."""

    name = "stub"

    def __init__(self, view: str, value: float = 0.25) -> None:
        self.model_view = view
        self.value = value

    def predict_proba(self, scores, groups):
        assert groups.tolist() == [0, 0, 0, 1, 1, 1]
        return np.full(len(scores), self.value)


def test_calibrated_view_follows_the_calibrators_view() -> None:
    listwise = calibrated_view(_run(), _Stub("listwise"), depth=2)
    assert listwise.confidences.shape == (2, 1) and listwise.correct[:, 0].tolist() == [1, 0]
    pointwise = calibrated_view(_run(), _Stub("pointwise"), depth=2)
    assert pointwise.confidences.shape == (2, 2) and np.all(pointwise.confidences == 0.25)
    with pytest.raises(NumericalError):
        calibrated_view(_run(), _Stub("pointwise", float("nan")))
    with pytest.raises(ConfigError, match="view"):
        calibrated_view(_run(), _Stub("sideways"))


def test_bootstrap_intervals() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(200)
    intervals = bootstrap_means({"m": values, "const": np.full(200, 0.3)}, n_resamples=500, seed=1)
    m = intervals["m"]
    assert m.value == pytest.approx(values.mean())
    assert m.low < m.value < m.high
    assert m.high - m.low == pytest.approx(2 * 1.96 * values.std() / math.sqrt(200), rel=0.25)
    assert intervals["const"].low == pytest.approx(0.3) and intervals["const"].high == pytest.approx(0.3)
    again = bootstrap_means({"m": values}, n_resamples=500, seed=1)["m"]
    assert (again.low, again.high) == (m.low, m.high)
    assert bootstrap_means({"m": values}, n_resamples=0)["m"].low is None
    with pytest.raises(DataError):
        bootstrap_means({"a": values, "b": values[:3]})


def test_bootstrap_statistic_resamples_queries() -> None:
    values = np.arange(10, dtype=float)
    seen = []

    def statistic(rows: np.ndarray) -> dict[str, float]:
        seen.append(len(rows))
        return {"max": float(values[rows].max())}

    result = bootstrap_statistic(statistic, 10, n_resamples=50, seed=0)["max"]
    assert result.value == 9.0 and result.high == 9.0 and result.low < 9.0
    assert seen == [10] * 51


def test_randomization_test_sanity() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(100)
    assert paired_randomization_test(a, a.copy(), 500) == 1.0
    assert paired_randomization_test(a + 0.2, a, 999) == pytest.approx(1 / 1000)
    noise = paired_randomization_test(a + rng.normal(0, 0.01, 100), a, 999, seed=1)
    assert noise > 0.01
    p_forward = paired_randomization_test(a + 0.01, a, 200, seed=5)
    assert p_forward == paired_randomization_test(a, a + 0.01, 200, seed=5)  # two-sided, symmetric
    with pytest.raises(DataError):
        paired_randomization_test(a, a[:5])
    with pytest.raises(ConfigError):
        paired_randomization_test(a, a, 0)


def test_randomization_statistic_swaps_queries() -> None:
    same = paired_randomization_statistic(lambda swap: {"d": 0.0}, 20, 100)
    assert same == {"d": 1.0}
    x = np.linspace(0, 1, 30)

    def difference(swap: np.ndarray) -> dict[str, float]:
        first = np.where(swap, x, x + 1.0)
        second = np.where(swap, x + 1.0, x)
        return {"mean": float(first.mean() - second.mean())}

    assert paired_randomization_statistic(difference, 30, 499, seed=2)["mean"] == pytest.approx(1 / 500)
