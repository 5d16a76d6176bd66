"""Calibration metrics against values computed by hand, edge cases, and the reliability diagram."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from clir_calib.errors import DataError, NumericalError
from clir_calib.metrics.calibration import NLL_EPS, calibration_report
from clir_calib.report.plots import reliability_diagram


def test_equal_width_and_equal_mass_ece_by_hand() -> None:
    # equal-width, 2 bins: (0, .5] holds .1 .2 .3 (mean .2, acc 1/3), (.5, 1] holds .9 (acc 1)
    #   ECE = 3/4 * |1/3 - .2| + 1/4 * |1 - .9| = .1 + .025 = .125; MCE = 2/15
    # equal-mass, 2 bins: {.1, .2} (mean .15, acc 0) and {.3, .9} (mean .6, acc 1)
    #   ECE = 1/2 * .15 + 1/2 * .4 = .275
    report = calibration_report([0.1, 0.2, 0.3, 0.9], [0, 0, 1, 1], bins=2)
    assert report.ece_equal_width == pytest.approx(0.125)
    assert report.mce == pytest.approx(2 / 15)
    assert report.ece_equal_mass == pytest.approx(0.275)
    assert report.equal_width.count == [3, 1]
    assert report.equal_mass.count == [2, 2]
    assert report.equal_mass.lower == pytest.approx([0.0, 0.25])
    assert report.equal_mass.upper == pytest.approx([0.25, 1.0])
    assert report.equal_mass.mean_confidence == pytest.approx([0.15, 0.6])
    assert report.equal_mass.accuracy == pytest.approx([0.0, 1.0])
    assert report.n == 4
    assert report.accuracy == pytest.approx(0.5)


def test_brier_and_nll_by_hand() -> None:
    report = calibration_report([0.8, 0.3], [1, 0], bins=5)
    assert report.brier == pytest.approx((0.2**2 + 0.3**2) / 2)
    assert report.nll == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)


def test_fifteen_bins_with_many_empty_bins() -> None:
    # .05 -> bin 0, .95 -> bin 14; every other bin is empty and must not count
    report = calibration_report([0.05, 0.95, 0.95], [0, 1, 0], bins=15)
    assert report.equal_width.count[0] == 1 and report.equal_width.count[14] == 2
    assert sum(report.equal_width.count) == 3
    assert report.equal_width.accuracy[5] is None and report.equal_width.mean_confidence[5] is None
    # bin 0 gap .05, bin 14 gap |.5 - .95| = .45
    assert report.ece_equal_width == pytest.approx(1 / 3 * 0.05 + 2 / 3 * 0.45)
    assert report.mce == pytest.approx(0.45)


def test_confidence_exactly_zero_and_one() -> None:
    perfect = calibration_report([0.0, 1.0, 1.0], [0, 1, True], bins=15)
    assert perfect.equal_width.count[0] == 1 and perfect.equal_width.count[-1] == 2
    assert perfect.ece_equal_width == 0.0 and perfect.ece_equal_mass == 0.0
    assert perfect.brier == 0.0
    assert perfect.nll == pytest.approx(-math.log(1 - NLL_EPS), abs=1e-9)
    wrong = calibration_report([0.0, 1.0], [1, 0], bins=15)
    assert wrong.ece_equal_width == pytest.approx(1.0)
    assert wrong.nll == pytest.approx(-math.log(NLL_EPS))
    assert math.isfinite(wrong.nll)


def test_bin_edges_belong_to_the_lower_bin() -> None:
    # 0.5 is the upper edge of the first of two bins: (0, .5] ; 0.5000001 is in the second
    report = calibration_report([0.5, 0.5000001], [1, 0], bins=2)
    assert report.equal_width.count == [1, 1]


def test_equal_mass_keeps_ties_together() -> None:
    report = calibration_report([0.5, 0.5, 0.5, 0.9], [1, 0, 1, 1], bins=2)
    assert report.equal_mass.count == [3, 1]
    assert report.equal_mass.mean_confidence == pytest.approx([0.5, 0.9])
    # |2/3 - .5| * 3/4 + |1 - .9| * 1/4
    assert report.ece_equal_mass == pytest.approx(0.75 * (2 / 3 - 0.5) + 0.25 * 0.1)
    constant = calibration_report([0.7] * 10, [1] * 7 + [0] * 3, bins=15)
    assert constant.equal_mass.count == [10]
    assert constant.ece_equal_mass == pytest.approx(0.0, abs=1e-12)


def test_equal_mass_bins_are_balanced_without_ties() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(size=1003)
    report = calibration_report(conf, rng.uniform(size=1003) < conf, bins=15)
    assert len(report.equal_mass) == 15
    assert max(report.equal_mass.count) - min(report.equal_mass.count) <= 1
    assert report.equal_mass.lower[1:] == report.equal_mass.upper[:-1]


def test_well_calibrated_sample_has_small_ece_and_miscalibrated_large() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(size=20000)
    calibrated = calibration_report(conf, rng.uniform(size=conf.size) < conf)
    overconfident = calibration_report(conf, rng.uniform(size=conf.size) < conf**3)
    assert calibrated.ece_equal_width < 0.02 and calibrated.ece_equal_mass < 0.02
    assert overconfident.ece_equal_width > 0.2


def test_to_dict_is_strict_json() -> None:
    data = calibration_report([0.05, 0.95], [0, 1], bins=15).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["equal_width_bins"]["accuracy"][3] is None
    assert set(data) >= {"ece_equal_width", "ece_equal_mass", "mce", "brier", "nll", "n"}


@pytest.mark.parametrize(
    ("confidences", "correct", "error"),
    [
        ([0.2, float("nan")], [0, 1], NumericalError),
        ([0.2, float("inf")], [0, 1], NumericalError),
        ([0.2, 1.5], [0, 1], NumericalError),
        ([-0.1, 0.5], [0, 1], NumericalError),
        ([0.2, 0.3], [0, 1, 1], DataError),
        ([], [], DataError),
        ([0.2, 0.3], [0, 2], DataError),
    ],
)
def test_bad_input_is_a_clear_error(confidences: list[float], correct: list[int], error: type) -> None:
    with pytest.raises(error):
        calibration_report(confidences, correct)


def test_bins_must_be_positive() -> None:
    with pytest.raises(DataError, match="bins"):
        calibration_report([0.5], [1], bins=0)


def test_reliability_diagram_writes_a_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    conf = rng.beta(1, 4, size=500)
    correct = rng.uniform(size=500) < conf
    target = reliability_diagram((conf, correct), tmp_path / "sub" / "diagram.png", title="t")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = calibration_report([0.0, 1.0, 1.0], [0, 1, 1])
    reliability_diagram(report, tmp_path / "mass.png", binning="equal_mass")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mass.png", "sub"]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["diagram.png"]
    with pytest.raises(DataError, match="binning"):
        reliability_diagram(report, tmp_path / "x.png", binning="bad")  # type: ignore[arg-type]


def test_a_redrawn_diagram_canvas_gives_the_bytes_of_a_new_figure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Diagrams redraw one canvas per thread; nothing of the diagram before may remain (bars, diagonal, legend, the
    histogram's log or linear scale), in either binning, with empty bins, with and without a title."""
    rng = np.random.default_rng(5)
    cases = []
    for i, n in enumerate((40, 6000, 300, 20000, 3)):
        conf = rng.uniform(size=n) ** (1 + 3 * (i % 3))
        correct = rng.uniform(size=n) < np.sqrt(conf)
        cases.append((calibration_report(conf, correct), ("equal_width", "equal_mass")[i % 2], f"case {i}" * (i % 2)))
    for i, (report, binning, title) in enumerate(cases + cases[::-1]):
        reused = reliability_diagram(report, tmp_path / f"reused{i}.png", title=title, binning=binning)  # type: ignore[arg-type]
        fresh = reliability_diagram(report, tmp_path / f"fresh{i}.png", title=title, binning=binning,  # type: ignore[arg-type]
                                    reuse=False)
        assert reused.read_bytes() == fresh.read_bytes(), f"diagram {i} differs after a redraw"
