"""The one-pass calibration permutation test equals the loop over swapped copies."""

from __future__ import annotations

import numpy as np
import pytest

from clir_calib.evaluation.differences import CALIBRATION_METRICS, calibration_p_values
from clir_calib.evaluation.significance import paired_randomization_statistic
from clir_calib.metrics.calibration import calibration_report


def _loop(a, b, bins, permutations, seed):  # type: ignore[no-untyped-def]
    def difference(swap: np.ndarray) -> dict[str, float]:
        rows = swap[:, None]
        conf_a, conf_b = np.where(rows, b[0], a[0]), np.where(rows, a[0], b[0])
        hit_a, hit_b = np.where(rows, b[1], a[1]), np.where(rows, a[1], b[1])
        first = calibration_report(conf_a.reshape(-1), hit_a.reshape(-1), bins).summary()
        second = calibration_report(conf_b.reshape(-1), hit_b.reshape(-1), bins).summary()
        return {name: first[name] - second[name] for name in CALIBRATION_METRICS}

    return paired_randomization_statistic(difference, a[0].shape[0], permutations, seed)


@pytest.mark.parametrize("per_query,shift", [(1, 0.0), (4, 0.05), (3, 0.3)])
def test_vectorised_equals_the_loop(per_query: int, shift: float) -> None:
    rng = np.random.default_rng(per_query)
    q = 120
    conf_a = rng.beta(3, 1, size=(q, per_query))
    conf_b = np.clip(conf_a + shift * rng.random((q, per_query)), 0, 1)
    hits = (rng.random((q, per_query)) < conf_a).astype(np.int64)
    a, b = (conf_a, hits), (conf_b, hits)
    ours = calibration_p_values(a, b, 10, 150, seed=4)
    theirs = _loop(a, b, 10, 150, seed=4)
    assert ours == pytest.approx(theirs, abs=1e-12)
    if shift >= 0.3:
        assert ours["ece_equal_width"] < 0.05  # a real difference is found
    same = calibration_p_values(a, a, 10, 50, seed=1)
    assert all(p == 1.0 for p in same.values())
