"""Calibrators: reference checks (scikit-learn, scipy), lower ECE on miscalibrated scores, JSON files, bad input."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from clir_calib.calibrators import Calibrator, load_calibrator
from clir_calib.calibrators.base import group_softmax
from clir_calib.calibrators.listwise import TemperatureNLL
from clir_calib.errors import ConfigError, DataError, NumericalError
from clir_calib.metrics.calibration import calibration_report
from clir_calib.plugins import CALIBRATORS

POINTWISE = ("platt", "isotonic", "histogram", "beta")
ALL = ("identity", "temperature", *POINTWISE)


def pointwise_sample(seed: int, n: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    """Cosine-like scores around .8 whose true P(relevant) is a steep sigmoid: raw scores are overconfident."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.8, 0.04, size=n)
    truth = 1.0 / (1.0 + np.exp(-(scores - 0.84) * 50))
    return scores, (rng.uniform(size=n) < truth).astype(np.int64)


def listwise_sample(seed: int, queries: int = 400, k: int = 20, true_t: float = 0.02):  # type: ignore[no-untyped-def]
    """Each query has one relevant candidate drawn from softmax(s / true_t), in rank order like a ScoredRun."""
    rng = np.random.default_rng(seed)
    scores = -np.sort(-rng.normal(0.8, 0.03, size=(queries, k)), axis=1)
    labels = np.zeros((queries, k), dtype=np.int64)
    for q in range(queries):
        p = np.exp((scores[q] - scores[q].max()) / true_t)
        labels[q, rng.choice(k, p=p / p.sum())] = 1
    groups = np.repeat(np.arange(queries), k)
    return scores, labels, groups


def top1_report(probs: np.ndarray, labels: np.ndarray):  # type: ignore[no-untyped-def]
    q, k = labels.shape
    probs = probs.reshape(q, k)
    best = probs.argmax(axis=1)
    return calibration_report(probs[np.arange(q), best], labels[np.arange(q), best])


def test_all_builtins_registered_with_declared_views() -> None:
    registry = CALIBRATORS.all()
    assert set(ALL) <= set(registry)
    for name in ALL:
        cls = registry[name]
        assert issubclass(cls, Calibrator)
        assert cls.view in ("listwise", "pointwise")
        assert cls.describe()["description"]
    assert CALIBRATORS.get("temperature").view == "listwise"
    assert all(CALIBRATORS.get(n).view == "pointwise" for n in POINTWISE)


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_calibrators_lower_ece_on_held_out_scores(name: str) -> None:
    fit_scores, fit_labels = pointwise_sample(0)
    test_scores, test_labels = pointwise_sample(1)
    before = calibration_report(np.clip(test_scores, 0, 1), test_labels)
    calibrator = CALIBRATORS.get(name)().fit(fit_scores, fit_labels)
    after = calibration_report(calibrator.predict_proba(test_scores), test_labels)
    assert before.ece_equal_width > 0.3
    assert after.ece_equal_width < 0.05 < before.ece_equal_width / 5
    assert after.ece_equal_mass < 0.05
    assert after.brier < before.brier and after.nll < before.nll


def test_temperature_lowers_listwise_ece_and_recovers_the_temperature() -> None:
    scores, labels, groups = listwise_sample(0)
    test_scores, test_labels, test_groups = listwise_sample(1)
    raw = CALIBRATORS.get("identity")(view="listwise").fit(scores.ravel(), labels.ravel(), groups)
    fitted = CALIBRATORS.get("temperature")().fit(scores.ravel(), labels.ravel(), groups)
    before = top1_report(raw.predict_proba(test_scores.ravel(), test_groups), test_labels)
    after = top1_report(fitted.predict_proba(test_scores.ravel(), test_groups), test_labels)
    assert fitted.temperature == pytest.approx(0.02, rel=0.2)
    assert not fitted.at_bound
    assert before.ece_equal_width > 0.2
    assert after.ece_equal_width < 0.06
    assert after.nll < before.nll


def test_temperature_objective_equals_the_per_query_nll_at_every_temperature() -> None:
    """The fit's objective (top scores found once, relevant rows only) is the per-query NLL, from temperatures so
    small that exp(s / T) overflows without the shift to temperatures where every candidate is alike."""
    scores, labels, groups = listwise_sample(5, queries=60, k=8, true_t=0.05)
    labels[::5, 2] = 1
    labels[::7] = 0
    nll = TemperatureNLL(scores.ravel(), labels.ravel(), groups)
    for t in (1e-4, 3e-3, 0.05, 1.0, 80.0):
        direct = [logsumexp(scores[q] / t) - logsumexp(scores[q][labels[q] == 1] / t)
                  for q in range(scores.shape[0]) if labels[q].sum()]
        assert nll(t) == pytest.approx(float(np.mean(direct)), rel=1e-12, abs=1e-12), t


def test_one_temperature_gives_the_bits_of_the_many_temperatures_path() -> None:
    """A Brent step evaluates one temperature by its own path (no ``[T, N]`` cell index); it must give exactly what the
    many-temperatures path gives for that one temperature, or the fitted temperatures would move."""
    from clir_calib.calibrators.listwise import _group_max, _scaled_logsumexp, _scaled_logsumexp_rows

    for seed in range(4):
        scores, labels, groups = listwise_sample(seed, queries=30 + 40 * seed, k=3 + 9 * seed, true_t=0.05)
        labels[::4] = 0  # queries without a relevant candidate: empty groups in the relevant-only sums
        n_groups, relevant = int(groups.max()) + 1, labels.ravel() > 0
        for values, where in ((scores.ravel(), groups), (scores.ravel()[relevant], groups[relevant])):
            top = _group_max(values, where, n_groups)
            for t in np.exp(np.linspace(np.log(1e-4), np.log(100.0), 17)):
                one = np.array([t])
                with np.errstate(divide="ignore"):
                    assert np.array_equal(_scaled_logsumexp(values, where, top, one, n_groups),
                                          _scaled_logsumexp_rows(values, where, top, one, n_groups)), (seed, t)


def test_temperature_matches_a_direct_nll_minimisation() -> None:
    scores, labels, groups = listwise_sample(3, queries=150, k=10, true_t=0.03)
    labels[::7, 1] = 1  # some queries with two relevant candidates
    labels[::11] = 0  # and some with none retrieved (left out of the fit)

    def nll(t: np.ndarray) -> float:
        total = 0.0
        used = 0
        for q in range(scores.shape[0]):
            if labels[q].sum() == 0:
                continue
            z = scores[q] / t[0]
            total += logsumexp(z) - logsumexp(z[labels[q] == 1])
            used += 1
        return total / used

    reference = minimize(nll, x0=[0.1], method="L-BFGS-B", bounds=[(1e-3, 10.0)], options={"ftol": 1e-14, "gtol": 1e-10})
    fitted = CALIBRATORS.get("temperature")().fit(scores.ravel(), labels.ravel(), groups)
    assert fitted.temperature == pytest.approx(float(reference.x[0]), rel=1e-3)
    assert nll(np.array([fitted.temperature])) <= reference.fun + 1e-9


def test_platt_matches_unregularised_sklearn_logistic_regression() -> None:
    scores, labels = pointwise_sample(4, n=3000)
    fitted = CALIBRATORS.get("platt")().fit(scores, labels)
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10000).fit(scores[:, None], labels)
    assert fitted.slope == pytest.approx(float(reference.coef_[0, 0]), rel=1e-3)
    assert fitted.bias == pytest.approx(float(reference.intercept_[0]), rel=1e-3)
    probe = np.linspace(0.6, 1.0, 50)
    np.testing.assert_allclose(fitted.predict_proba(probe), reference.predict_proba(probe[:, None])[:, 1], atol=1e-5)


def test_beta_matches_sklearn_on_its_two_features() -> None:
    scores, labels = pointwise_sample(5, n=3000)
    fitted = CALIBRATORS.get("beta")().fit(scores, labels)
    p = (scores + 1) / 2
    features = np.stack([np.log(p), -np.log(1 - p)], axis=1)
    reference = LogisticRegression(C=np.inf, tol=1e-12, max_iter=100000).fit(features, labels)
    a, b = reference.coef_[0]
    assert a > 0 and b > 0  # the unconstrained optimum is already monotone here
    probe = np.linspace(0.6, 0.99, 40)
    q = (probe + 1) / 2
    expected = reference.predict_proba(np.stack([np.log(q), -np.log(1 - q)], axis=1))[:, 1]
    np.testing.assert_allclose(fitted.predict_proba(probe), expected, atol=1e-4)


def test_beta_keeps_the_map_monotone_and_checks_the_score_range() -> None:
    rng = np.random.default_rng(6)
    scores = rng.uniform(-0.9, 0.9, size=2000)
    labels = (rng.uniform(size=2000) < 0.2 + 0.5 * (scores > 0)).astype(int)
    fitted = CALIBRATORS.get("beta")().fit(scores, labels)
    assert fitted.a >= 0 and fitted.b >= 0
    assert np.all(np.diff(fitted.predict_proba(np.linspace(-0.99, 0.99, 100))) >= -1e-12)
    with pytest.raises(DataError, match="mapping=sigmoid"):
        fitted.predict_proba([0.5, 3.0])
    unbounded = CALIBRATORS.get("beta")(mapping="sigmoid").fit(scores * 10, labels)
    assert np.isfinite(unbounded.predict_proba([-50.0, 50.0])).all()


def test_isotonic_matches_sklearn_with_ties_and_clipping() -> None:
    rng = np.random.default_rng(7)
    scores = np.round(rng.normal(0.8, 0.05, size=2000), 3)  # rounding makes many ties
    labels = (rng.uniform(size=2000) < np.clip((scores - 0.7) * 4, 0, 1)).astype(int)
    fitted = CALIBRATORS.get("isotonic")().fit(scores, labels)
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)
    probe = np.concatenate([np.linspace(0.5, 1.1, 301), scores[:50]])
    np.testing.assert_allclose(fitted.predict_proba(probe), reference.predict(probe), atol=1e-12)
    assert np.all(np.diff(fitted.predict_proba(np.sort(probe))) >= 0)


def test_histogram_bins_are_equal_mass_and_give_bin_frequencies() -> None:
    scores = np.arange(12, dtype=float) / 12
    labels = np.array([0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1])
    fitted = CALIBRATORS.get("histogram")(bins=3).fit(scores, labels)
    np.testing.assert_allclose(fitted.predict_proba(scores), np.repeat([0.25, 0.5, 1.0], 4))
    np.testing.assert_allclose(fitted.predict_proba([-5.0, 5.0]), [0.25, 1.0])


def test_identity_views() -> None:
    scores = np.array([0.9, 0.5, -0.2, 1.2, 0.3, 0.3])
    labels = np.array([1, 0, 0, 1, 0, 0])
    groups = np.array([7, 7, 7, 2, 2, 2])
    pointwise = CALIBRATORS.get("identity")().fit(scores, labels)
    np.testing.assert_allclose(pointwise.predict_proba(scores), 1 / (1 + np.exp(-scores)))
    scaled = CALIBRATORS.get("identity")(scale=100.0, bias=-80.0).fit(scores, labels)
    np.testing.assert_allclose(scaled.predict_proba(np.array([0.8, 0.81])), [0.5, 1 / (1 + np.exp(-1.0))])
    clipped = CALIBRATORS.get("identity")(pointwise_map="clip").fit(scores, labels)
    np.testing.assert_allclose(clipped.predict_proba(scores), [0.9, 0.5, 0.0, 1.0, 0.3, 0.3])
    affine = CALIBRATORS.get("identity")(pointwise_map="affine").fit(scores, labels)
    np.testing.assert_allclose(affine.predict_proba([-1.0, 0.0, 1.0]), [0.0, 0.5, 1.0])
    listwise = CALIBRATORS.get("identity")(view="listwise").fit(scores, labels, groups)
    probs = listwise.predict_proba(scores, groups)
    np.testing.assert_allclose(probs[:3], np.exp(scores[:3]) / np.exp(scores[:3]).sum())
    np.testing.assert_allclose(probs[3:].sum(), 1.0)
    np.testing.assert_allclose(group_softmax(scores, np.array([0, 0, 0, 1, 1, 1]), 1.0), probs)
    cold = CALIBRATORS.get("identity")(view="listwise", temperature=0.5).fit(scores, labels, groups)
    np.testing.assert_allclose(cold.predict_proba(scores, groups)[:3], np.exp(2 * scores[:3]) / np.exp(2 * scores[:3]).sum())


@pytest.mark.parametrize("name", ALL)
def test_json_round_trip_gives_identical_predictions(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    scores, labels, groups = listwise_sample(8, queries=60, k=10)
    fitted = CALIBRATORS.get(name)().fit(scores.ravel(), labels.ravel(), groups, fitted_on={"lang": "de"})
    path = fitted.save(tmp_path / f"{name}.json")
    data = json.loads(path.read_text())
    assert data["kind"] == name and data["version"] == fitted.version and data["view"] == fitted.model_view
    loaded = load_calibrator(path)
    assert type(loaded) is type(fitted) and loaded.fitted_on == {"lang": "de"}
    np.testing.assert_array_equal(
        loaded.predict_proba(scores.ravel(), groups), fitted.predict_proba(scores.ravel(), groups)
    )
    assert load_calibrator(path, expected_kind=name).config == fitted.config


def test_calibrator_files_of_the_wrong_kind_or_version_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scores, labels = pointwise_sample(9, n=500)
    path = CALIBRATORS.get("platt")().fit(scores, labels).save(tmp_path / "platt.json")
    with pytest.raises(DataError, match="expected 'isotonic'"):
        load_calibrator(path, expected_kind="isotonic")
    data = json.loads(path.read_text())
    for change, message in (
        ({"version": 99}, "version 99"),
        ({"kind": "nope"}, "unknown calibrator 'nope'"),
        ({"format": "other"}, "not a calibrator file"),
        ({"state": {"slope": 1.0}}, "malformed"),
        ({"state": None}, "no fitted state"),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**data, **change}))
        with pytest.raises(DataError, match=message):
            load_calibrator(bad)
    (tmp_path / "metrics.json").write_text('{"map": 0.5}')
    with pytest.raises(DataError, match="not a calibrator file"):
        load_calibrator(tmp_path / "metrics.json")
    (tmp_path / "garbage.json").write_bytes(b"\x80\x81 not json")
    with pytest.raises(DataError, match="not JSON"):
        load_calibrator(tmp_path / "garbage.json")
    with pytest.raises(DataError, match="not found"):
        load_calibrator(tmp_path / "missing.json")


@pytest.mark.parametrize("name", ALL)
def test_fit_needs_positives_and_negatives(name: str) -> None:
    scores = np.linspace(0.5, 0.9, 20)
    groups = np.repeat(np.arange(4), 5)
    with pytest.raises(DataError, match="no relevant pairs"):
        CALIBRATORS.get(name)().fit(scores, np.zeros(20), groups)
    with pytest.raises(DataError, match="every pair"):
        CALIBRATORS.get(name)().fit(scores, np.ones(20), groups)


@pytest.mark.parametrize("name", ALL)
def test_nan_scores_are_a_numerical_error(name: str) -> None:
    scores = np.linspace(0.5, 0.9, 20)
    labels = np.tile([0, 0, 0, 0, 1], 4)  # the relevant candidate scores highest (a fit may not invert the order)
    groups = np.repeat(np.arange(4), 5)
    bad = scores.copy()
    bad[3] = np.nan
    with pytest.raises(NumericalError, match="NaN"):
        CALIBRATORS.get(name)().fit(bad, labels, groups)
    fitted = CALIBRATORS.get(name)().fit(scores, labels, groups)
    with pytest.raises(NumericalError, match="NaN"):
        fitted.predict_proba(bad, groups)


def test_other_bad_input() -> None:
    scores = np.linspace(0.5, 0.9, 10)
    labels = np.tile([1, 0], 5)
    with pytest.raises(DataError, match="listwise: pass groups"):
        CALIBRATORS.get("temperature")().fit(scores, labels)
    with pytest.raises(DataError, match="one label per score"):
        CALIBRATORS.get("platt")().fit(scores, labels[:-1])
    with pytest.raises(DataError, match="0/1"):
        CALIBRATORS.get("platt")().fit(scores, labels * 2)
    with pytest.raises(DataError, match="all fit scores are equal"):
        CALIBRATORS.get("platt")().fit(np.full(10, 0.7), labels)
    with pytest.raises(DataError, match="both a relevant and a non-relevant"):
        # every query is all-relevant or all-irrelevant: the temperature is not identified
        CALIBRATORS.get("temperature")().fit(scores, np.repeat([1, 0, 1, 0, 1], 2), np.repeat(np.arange(5), 2))
    with pytest.raises(ConfigError, match="min_temperature"):
        CALIBRATORS.get("temperature")(min_temperature=2.0, max_temperature=1.0)
    with pytest.raises(ConfigError, match="unknown parameter"):
        CALIBRATORS.get("platt")(slope=3)
    with pytest.raises(ConfigError, match="bins"):
        CALIBRATORS.get("histogram")(bins=0)
    with pytest.raises(Exception, match="not fitted"):
        CALIBRATORS.get("isotonic")().predict_proba(scores)


def test_hook_register_calibrators(tmp_path):
    from clir_calib import hookimpl, plugins
    from clir_calib.calibrators.base import Calibrator
    from clir_calib.calibrators.files import load_calibrator

    class ConstantCalibrator(Calibrator):
        """Predicts the fit set's share of relevant pairs for every pair (a toy plugin)."""

        name = "test-constant"
        description = "The base rate of the fit set."

        def _fit(self, scores, labels, groups):
            self.rate = float(labels.mean())

        def _predict(self, scores, groups):
            return np.full(scores.shape, self.rate)

        def state(self):
            return {"rate": self.rate}

        def set_state(self, state):
            self.rate = float(state["rate"])

    class Plugin:
        @hookimpl
        def register_calibrators(self, register):
            register(ConstantCalibrator)

    plugins.pm.register(Plugin(), name="test-calibrator-plugin")
    try:
        fitted = plugins.CALIBRATORS.get("test-constant")().fit([0.1, 0.9, 0.5, 0.7], [0, 1, 0, 1])
        path = fitted.save(tmp_path / "constant.json")
        assert load_calibrator(path).predict_proba([0.3]).tolist() == [0.5]
    finally:
        plugins.pm.unregister(name="test-calibrator-plugin")


@pytest.mark.parametrize("registry, name, params, message", [
    ("CALIBRATORS", "identity", {"view": "listwise", "temperature": 0}, "temperature must be > 0"),
    ("CALIBRATORS", "platt", {"l2": -1.0}, "l2 must be at least 0"),
    ("CALIBRATORS", "histogram", {"bins": 0}, "bins must be at least 1"),
    ("CALIBRATORS", "temperature", {"max_temperature": -1.0}, "max_temperature must be > 0"),
    ("TRANSFER_ADAPTERS", "quantile", {"levels": 1}, "levels must be at least 2"),
    ("TRANSFER_ADAPTERS", "standardize", {"min_sd": 0.0}, "min_sd must be > 0"),
    ("TRANSFER_ADAPTERS", "mixture", {"iterations": 0}, "iterations must be at least 1"),
])
def test_declared_parameter_bounds_refuse_values_that_cannot_work(registry: str, name: str, params: dict[str, Any],
                                                                   message: str) -> None:
    """A value outside its declared bound is refused when the component is built (quantile used to clamp
    levels=1 to 2 silently; a listwise temperature of 0 divided by zero)."""
    from clir_calib import plugins

    with pytest.raises(ConfigError, match=message):
        getattr(plugins, registry).get(name)(**params)


def test_logistic_fit_reaches_the_optimum_and_stops_on_separable_data() -> None:
    """Newton's method ends where the gradient of the mean BCE (+ L2) vanishes; on separable data, which have no
    optimum, it stops at a steep finite slope with the classes apart."""
    from scipy.special import expit

    from clir_calib.calibrators.logistic import fit_logistic

    rng = np.random.default_rng(11)
    x = rng.normal(0.8, 0.05, size=(500, 2))
    y = (rng.random(500) < expit(40 * (x[:, 0] - 0.8) - 10 * (x[:, 1] - 0.8))).astype(float)
    for l2 in (0.0, 0.5):
        w, b = fit_logistic(x, y, l2)
        z = (x - x.mean(axis=0)) / x.std(axis=0)
        theta = np.r_[w * x.std(axis=0), b + w @ x.mean(axis=0)]
        residual = expit(x @ w + b) - y
        gradient = np.r_[z.T @ residual / 500 + l2 * theta[:2], residual.mean()]
        assert np.abs(gradient).max() < 1e-8
    separable = np.linspace(0.7, 0.9, 40)[:, None]
    w, b = fit_logistic(separable, (separable[:, 0] > 0.8).astype(float))
    assert np.isfinite(w).all() and w[0] > 100
    assert np.all((expit(separable[:, 0] * w[0] + b) > 0.5) == (separable[:, 0] > 0.8))
