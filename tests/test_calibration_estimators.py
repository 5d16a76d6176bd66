"""The weighted calibration estimators against their reference implementations, and their bootstrap."""

from __future__ import annotations

import calibration  # uncertainty-calibration, a dev dependency: the reference for ece_debiased
import numpy as np
import pytest
import relplot  # the reference for smece

from clir_calib.evaluation.bootstrap import bootstrap_pairs
from clir_calib.metrics.calibration import calibration_report, equal_width_table
from clir_calib.metrics.weighted import (
    WEIGHTED_METRICS,
    Pairs,
    debiased_l2_calibration_error,
    resample_weights,
    weighted_metrics,
)


def _sample(n: int, seed: int, rounded: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    conf = rng.beta(2.0, 1.0, size=n)
    if rounded:
        conf = np.round(conf, 2)  # many ties
    hits = (rng.random(n) < conf**1.5).astype(np.float64)
    return conf, hits


def _point(conf: np.ndarray, hits: np.ndarray, bins: int = 15) -> dict[str, float]:
    values = weighted_metrics(Pairs(conf, hits), np.ones((1, conf.size)), bins)
    return {name: float(v[0]) for name, v in values.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smece_equals_relplot(seed: int) -> None:
    for n, rounded in ((300, False), (1000, True), (2000, False)):
        conf, hits = _sample(n, seed, rounded)
        assert _point(conf, hits)["smece"] == pytest.approx(float(relplot.smECE(conf, hits)), abs=1e-6)


def test_smece_of_a_perfectly_calibrated_constant_is_near_zero() -> None:
    conf = np.full(400, 0.5)
    hits = np.tile([0.0, 1.0], 200)
    assert _point(conf, hits)["smece"] == pytest.approx(float(relplot.smECE(conf, hits)), abs=1e-6)
    assert _point(conf, hits)["smece"] < 0.01


def test_smece_smoothing_in_the_dct_domain_equals_relplots_fft_convolution() -> None:
    """Every row's smooth ECE at its own bandwidth in one inverse DCT (odd meshes) equals relplot's reflect-convolve
    at that bandwidth, one at a time (odd meshes of 1,001 and 2,565 points); even meshes (sigma 0.003: 3,334 points)
    take the FFT path itself."""
    from clir_calib.metrics.smooth_ece import _mesh_points, _smooth_ece_fft, smooth_ece_each

    conf, hits = _sample(900, 4)
    pairs = Pairs(conf, hits, queries=np.repeat(np.arange(300), 3))
    weights = resample_weights(np.random.default_rng(4).integers(0, 300, size=(7, 300)), 300)
    sigmas = np.array([1.0, 0.37, 0.05, 0.0123, 0.003, 0.0039, 0.05])
    assert [_mesh_points(s) % 2 for s in sigmas] == [1, 1, 1, 1, 0, 1, 1]
    rows = np.array([0, 1, 2, 3, 4, 5, 2])
    together = smooth_ece_each(pairs, weights, sigmas, rows)
    one_at_a_time = [_smooth_ece_fft(pairs, weights, float(s), _mesh_points(s), np.array([r]))
                     for s, r in zip(sigmas, rows, strict=True)]
    np.testing.assert_allclose(together, np.concatenate(one_at_a_time), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
def test_debiased_l2_equals_uncertainty_calibration_on_its_binning(seed: int) -> None:
    conf, hits = _sample(1500, seed)
    edges = calibration.get_equal_bins(list(conf), num_bins=15)
    index = np.searchsorted(edges, conf)
    expected = calibration.lower_bound_scaling_ce(conf, hits.astype(int), p=2, debias=True, num_bins=15,
                                                  binning_scheme=calibration.get_equal_bins)
    assert debiased_l2_calibration_error(conf, hits, index) == pytest.approx(float(expected), abs=1e-9)


def test_debiased_is_below_the_plugin_l2_error() -> None:
    conf, hits = _sample(800, 3)
    point = _point(conf, hits)
    # the plug-in L2 error on the same (equal-mass) bins, by hand
    order = np.argsort(conf, kind="stable")
    plugin = np.sqrt(sum(len(b) / conf.size * (conf[b].mean() - hits[b].mean()) ** 2
                         for b in np.array_split(order, 15)))
    assert 0.0 <= point["ece_debiased"] < plugin


def test_auroc_equals_scikit_learn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    for rounded in (False, True):
        conf, hits = _sample(700, 4, rounded)
        assert _point(conf, hits)["auroc"] == pytest.approx(roc_auc_score(hits, conf), abs=1e-12)


def test_auroc_is_undefined_with_one_class() -> None:
    assert np.isnan(_point(np.linspace(0, 1, 20), np.ones(20))["auroc"])


def test_brier_decomposition_adds_up_within_the_binning_error() -> None:
    conf, hits = _sample(3000, 5)
    point = _point(conf, hits)
    rebuilt = point["brier_reliability"] - point["brier_resolution"] + point["brier_uncertainty"]
    # Stephenson et al. (2008): Brier = REL - RES + UNC + within-bin variance - within-bin covariance
    table = equal_width_table(conf, hits, 15)
    index = np.searchsorted(np.linspace(0, 1, 16)[1:-1], conf, side="left")
    wbv = wbc = 0.0
    for b in range(15):
        mine = index == b
        if mine.any():
            fc = conf[mine] - conf[mine].mean()
            wbv += (fc**2).sum() / conf.size
            wbc += 2 * (fc * (hits[mine] - hits[mine].mean())).sum() / conf.size
    assert sum(table.count) == conf.size
    assert point["brier"] == pytest.approx(rebuilt + wbv - wbc, abs=1e-12)
    assert abs(point["brier"] - rebuilt) < 0.01  # and the binning error is small
    # exact when the confidences are constant within each bin
    flat = (index + 0.5) / 15
    exact = _point(flat, hits)
    assert exact["brier"] == pytest.approx(
        exact["brier_reliability"] - exact["brier_resolution"] + exact["brier_uncertainty"], abs=1e-12)


def test_aurc_without_ties_is_the_mean_selective_risk() -> None:
    conf, hits = _sample(500, 6)
    order = np.argsort(-conf)
    errors = 1.0 - hits[order]
    expected = float(np.mean(np.cumsum(errors) / np.arange(1, conf.size + 1)))
    assert _point(conf, hits)["aurc"] == pytest.approx(expected, abs=1e-12)
    # a perfect ranking (all correct answers first) has the smallest AURC
    ranked = np.sort(conf)[::-1]
    best = _point(ranked, np.sort(hits)[::-1])["aurc"]
    assert best <= _point(conf, hits)["aurc"]


def test_binned_metrics_equal_the_calibration_report() -> None:
    for rounded in (False, True):
        conf, hits = _sample(900, 7, rounded)
        point = _point(conf, hits, bins=10)
        report = calibration_report(conf, hits, bins=10)
        for name, value in report.summary().items():
            assert point[name] == pytest.approx(value, abs=1e-12), name


def test_weights_equal_duplicated_data_for_every_estimator() -> None:
    """A bootstrap resample as query counts gives what the estimator gives on the duplicated pairs."""
    rng = np.random.default_rng(8)
    conf, hits = _sample(600, 8, rounded=True)
    q, m = 200, 3  # 200 queries x 3 pairs, stored query by query
    draws = rng.integers(0, q, size=(6, q))
    weights = resample_weights(draws, q)
    batch = weighted_metrics(Pairs(conf, hits, queries=np.repeat(np.arange(q), m)), weights, 15)
    for row, drawn in enumerate(draws):
        rows = (drawn[:, None] * m + np.arange(m)).reshape(-1)
        expected = _point(conf[rows], hits[rows])
        report = calibration_report(conf[rows], hits[rows], bins=15)
        for name in WEIGHTED_METRICS:
            assert batch[name][row] == pytest.approx(expected[name], abs=1e-9, nan_ok=True), name
        for name, value in report.summary().items():
            assert batch[name][row] == pytest.approx(value, abs=1e-12), name
        assert batch["smece"][row] == pytest.approx(float(relplot.smECE(conf[rows], hits[rows])), abs=1e-6)


def test_one_row_bincount_sums_equal_the_sparse_products_of_many_rows() -> None:
    """A point estimate (one or two weight rows) sums pairs with ``bincount``, a bootstrap through cached sparse
    matrices: every estimator gives the same number either way."""
    conf, hits = _sample(900, 4, rounded=True)
    pairs = Pairs(conf, hits, queries=np.repeat(np.arange(300), 3))
    weights = np.random.default_rng(4).integers(0, 3, size=(1, 300)).astype(np.float64)
    dense = weighted_metrics(pairs, weights, 15)
    sparse_rows = weighted_metrics(Pairs(conf, hits, queries=np.repeat(np.arange(300), 3)), np.repeat(weights, 5, 0),
                                   15)
    for name in WEIGHTED_METRICS:
        assert dense[name][0] == pytest.approx(sparse_rows[name][0], rel=1e-12, abs=1e-14), name


def test_asking_for_some_estimators_gives_the_numbers_of_all() -> None:
    """Only the sums the asked estimators need are formed; each estimator alone gives its number from the full set."""
    conf, hits = _sample(600, 6, rounded=True)
    pairs = Pairs(conf, hits, queries=np.repeat(np.arange(200), 3))
    weights = np.random.default_rng(6).integers(0, 3, size=(4, 200)).astype(np.float64)
    everything = weighted_metrics(pairs, weights, 15)
    for name in WEIGHTED_METRICS:
        alone = weighted_metrics(pairs, weights, 15, (name,))
        assert list(alone) == [name]
        np.testing.assert_array_equal(alone[name], everything[name])


def test_bootstrap_pairs_intervals_hold_the_point_and_widen_with_fewer_queries() -> None:
    conf, hits = _sample(2000, 9)
    wide = bootstrap_pairs(conf[:100].reshape(100, 1), hits[:100].reshape(100, 1), 15, 300, seed=1)
    narrow = bootstrap_pairs(conf.reshape(2000, 1), hits.reshape(2000, 1), 15, 300, seed=1)
    for name in WEIGHTED_METRICS:
        interval = narrow[name]
        assert interval.low is not None and interval.high is not None
        assert interval.low <= interval.high
    assert (wide["smece"].high - wide["smece"].low) > (narrow["smece"].high - narrow["smece"].low)
    assert narrow["ece_equal_width"].low <= narrow["ece_equal_width"].value <= narrow["ece_equal_width"].high


def test_equal_mass_bins_found_in_two_levels_are_the_bins_of_the_duplicated_data() -> None:
    """The equal-mass search works on blocks of tie groups, then inside one block; its ECE on integer query weights
    equals the one-level reference on the pairs duplicated by their weights (ties, empty bins, cuts on block
    edges and zero-weight queries included)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from clir_calib.metrics import weighted
    from clir_calib.metrics.weighted import mass_block_width

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(queries=st.integers(1, 12), per_query=st.integers(1, 30), bins=st.integers(2, 20),
           decimals=st.integers(1, 3), seed=st.integers(0, 10_000))
    def check(queries: int, per_query: int, bins: int, decimals: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        conf = np.round(rng.random((queries, per_query)), decimals)
        hits = (rng.random((queries, per_query)) < conf).astype(np.float64)
        pairs = Pairs.per_query(conf, hits)
        weights = rng.integers(0, 3, size=(4, queries)).astype(np.float64)
        weights[0] = 1.0
        weights[:, 0] = np.maximum(weights[:, 0], 1.0)  # no empty resample (other queries may weigh 0)
        got = weighted_metrics(pairs, weights, bins, ("ece_equal_mass",))
        for row, w in enumerate(weights):
            take = np.repeat(np.arange(queries), w.astype(int))
            c, h = conf[take].reshape(-1), hits[take].reshape(-1)
            expected = calibration_report(c, h, bins).ece_equal_mass
            assert got["ece_equal_mass"][row] == pytest.approx(expected, abs=1e-12)
            alone = weighted_metrics(pairs, w[None, :], bins, ("ece_equal_mass",))  # one row: the dense sums
            assert alone["ece_equal_mass"][0] == pytest.approx(expected, abs=1e-12)

    check()  # small data: one block
    original = weighted.ONE_BLOCK_GROUPS, weighted.ONE_BLOCK_ELEMENTS
    weighted.ONE_BLOCK_GROUPS = weighted.ONE_BLOCK_ELEMENTS = 0  # the same cases searched in many blocks
    try:
        typical = Pairs.per_query(np.random.default_rng(0).random((12, 30)), np.zeros((12, 30)))
        assert -(-typical.n_groups // mass_block_width(typical, 15, 4)) > 1
        check()
    finally:
        weighted.ONE_BLOCK_GROUPS, weighted.ONE_BLOCK_ELEMENTS = original
