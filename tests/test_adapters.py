"""Label-free calibration-transfer adapters on synthetic scores whose right answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clir_calib import plugins
from clir_calib.adapters.base import AdaptedCalibrator, SourceScores, TargetScores, target_scores
from clir_calib.calibrators.files import load_calibrator
from clir_calib.errors import ClirCalibError
from clir_calib.evaluation.views import calibrated_view
from clir_calib.retrieval.scored import ScoredRun
from clir_calib.transfer.zero_shot import calibrate_transfer
from tests.fixtures_data import write_raw_views


def _lists(rng: np.random.Generator, queries: int, depth: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Retrieved lists where the relevant candidate (70% of queries) scores higher, sorted best first."""
    labels = np.zeros((queries, depth), dtype=np.int64)
    hit = rng.random(queries) < 0.7
    labels[hit, 0] = 1
    scores = 0.80 + 0.03 * rng.standard_normal((queries, depth))
    scores[:, 0] += np.where(hit, 0.08, 0.01)
    order = np.argsort(-scores, axis=1)
    return np.take_along_axis(scores, order, 1), np.take_along_axis(labels, order, 1)


def _run(scores: np.ndarray, labels: np.ndarray) -> ScoredRun:
    q, k = scores.shape
    return ScoredRun([f"q{i}" for i in range(q)], [[f"d{i}-{j}" for j in range(k)] for i in range(q)],
                     scores.astype(np.float32), labels.astype(np.int8), labels.sum(axis=1).astype(np.int32))


def _fit(name: str, scores: np.ndarray, labels: np.ndarray, depth: int = 10):  # type: ignore[no-untyped-def]
    from clir_calib.transfer.zero_shot import fit_calibrator

    return fit_calibrator(plugins.CALIBRATORS.get(name)(), _run(scores, labels), depth, {})


def _ece(calibrator, scores: np.ndarray, labels: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    return calibrated_view(_run(scores, labels), calibrator, 10).report(15).ece_equal_width


def _adapt(adapter_name: str, calibrator_name: str, source, target_s):  # type: ignore[no-untyped-def]
    calibrator = _fit(calibrator_name, *source)
    view = calibrator.model_view
    adapter = plugins.TRANSFER_ADAPTERS.get(adapter_name)().fit(SourceScores(*source), TargetScores(target_s), view, 10)
    if type(adapter).source_transform is not plugins.TRANSFER_ADAPTERS.get("none").source_transform:
        flat, groups = SourceScores(*source).flat()
        calibrator = _fit(calibrator_name, adapter.source_transform(flat, groups).reshape(source[0].shape), source[1])
    adapter.fit_to_calibrator(calibrator, SourceScores(*source), TargetScores(target_s))
    return AdaptedCalibrator(calibrator, adapter)


@pytest.mark.parametrize("calibrator", ["temperature", "platt", "isotonic"])
def test_quantile_recovers_the_source_calibration_under_a_monotone_shift(calibrator: str) -> None:
    rng = np.random.default_rng(0)
    source = _lists(rng, 3000)
    scores, labels = _lists(rng, 3000)
    shifted = 0.3 * scores + 0.1 * scores**3 + 0.4  # the target: same relevance, monotone-compressed scores
    plain = _fit(calibrator, *source)
    raw_gap = _ece(plain, shifted, labels) - _ece(plain, scores, labels)
    adapted = _adapt("quantile", calibrator, source, shifted)
    assert abs(raw_gap) > 0.05  # the calibrator does not transfer as it is
    assert abs(_ece(adapted, shifted, labels) - _ece(plain, scores, labels)) < 0.02  # quantile recovers it


def test_standardize_undoes_a_per_query_affine_change() -> None:
    rng = np.random.default_rng(1)
    source = _lists(rng, 2000)
    scores, labels = _lists(rng, 2000)
    a = rng.uniform(0.5, 2.0, size=(2000, 1))
    target = a * scores + rng.uniform(-0.3, 0.3, size=(2000, 1))  # each query stretched and shifted
    adapted = _adapt("standardize", "platt", source, target)
    same = _adapt("standardize", "platt", source, scores)
    groups = np.repeat(np.arange(2000), scores.shape[1])
    np.testing.assert_allclose(adapted.predict_proba(target.reshape(-1), groups),
                               same.predict_proba(scores.reshape(-1), groups), atol=1e-6)


def test_mixture_recovers_a_known_mixture() -> None:
    rng = np.random.default_rng(2)
    q, k = 4000, 10
    relevant = rng.random((q, k)) < 0.2
    bottom = 0.6  # non-relevant scores pile up low and thin out towards the top (Manmatha et al. 2001)
    scores = np.where(relevant, rng.normal(0.9, 0.03, (q, k)), bottom + rng.exponential(1 / 12.0, (q, k)))
    labels = relevant.astype(np.int64)
    source_scores = np.where(relevant, rng.normal(0.85, 0.03, (q, k)), bottom + rng.exponential(1 / 8.0, (q, k)))
    adapter = plugins.TRANSFER_ADAPTERS.get("mixture")().fit(
        SourceScores(source_scores, labels), TargetScores(scores), "pointwise", k)
    assert adapter.mu == pytest.approx(0.9, abs=0.01) and adapter.share == pytest.approx(0.2, abs=0.03)
    assert adapter.rate == pytest.approx(12.0, rel=0.15) and adapter.bottom == pytest.approx(bottom, abs=0.01)
    wrapped = AdaptedCalibrator(_fit("platt", source_scores, labels), adapter)
    assert _ece(wrapped, scores, labels) < 0.03  # the target posterior is calibrated on the target


def _lists_at(rng: np.random.Generator, queries: int, hit_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`_lists`, with the share of queries whose relevant candidate stands out set to ``hit_rate``."""
    labels = np.zeros((queries, 8), dtype=np.int64)
    hit = rng.random(queries) < hit_rate
    labels[:, 0] = 1
    scores = 0.80 + 0.03 * rng.standard_normal((queries, 8))
    scores[:, 0] += np.where(hit, 0.08, 0.0)  # a miss: the relevant candidate scores like the others
    order = np.argsort(-scores, axis=1)
    return np.take_along_axis(scores, order, 1), np.take_along_axis(labels, order, 1)


def test_atc_matches_the_mean_confidence_to_its_accuracy_estimate() -> None:
    from clir_calib.adapters.atc import top1_confidence

    rng = np.random.default_rng(11)
    source, (scores, labels) = _lists_at(rng, 3000, 0.7), _lists_at(rng, 3000, 0.4)
    adapted = _adapt("atc", "temperature", source, scores)
    facts = adapted.adapter.state()
    true_accuracy = float(np.mean(labels[:, 0] > 0))
    source_accuracy = float(np.mean(source[1][:, 0] > 0))
    assert facts["source_accuracy"] == pytest.approx(source_accuracy)
    # the defining property: the share above the seen language's threshold is the accuracy there
    conf = top1_confidence(adapted.calibrator, source[0])
    assert np.mean(conf > facts["threshold"]) == pytest.approx(source_accuracy, abs=1 / 3000)
    # on a target drawn by the same process at another accuracy the estimate follows the true accuracy: it is
    # much nearer to it than the seen language's accuracy (what a transferred calibrator assumes) is
    assert abs(source_accuracy - true_accuracy) > 0.2
    assert abs(facts["estimated_accuracy"] - true_accuracy) < 0.5 * abs(source_accuracy - true_accuracy)
    # and the adapted calibrator's mean top-1 confidence on the target is that estimate
    assert np.mean(top1_confidence(adapted, scores)) == pytest.approx(facts["estimated_accuracy"], abs=1e-8)


def test_atc_serves_the_listwise_view_only() -> None:
    rng = np.random.default_rng(12)
    source, (scores, _) = _lists(rng, 200), _lists(rng, 200)
    with pytest.raises(ClirCalibError, match="listwise"):
        plugins.TRANSFER_ADAPTERS.get("atc")().fit(SourceScores(*source), TargetScores(scores), "pointwise", 10)


def test_mixture_refuses_listwise_calibrators_and_labelled_targets() -> None:
    rng = np.random.default_rng(3)
    source = _lists(rng, 100)
    with pytest.raises(ClirCalibError, match="pointwise"):
        plugins.TRANSFER_ADAPTERS.get("mixture")().fit(SourceScores(*source), TargetScores(source[0]), "listwise")
    with pytest.raises(ClirCalibError, match="TargetScores"):
        plugins.TRANSFER_ADAPTERS.get("quantile")().fit(SourceScores(*source), SourceScores(*source), "pointwise")  # type: ignore[arg-type]


def test_none_is_the_calibrator_unchanged() -> None:
    rng = np.random.default_rng(4)
    source, (scores, _) = _lists(rng, 500), _lists(rng, 500)
    plain = _fit("platt", *source)
    adapted = _adapt("none", "platt", source, scores)
    groups = np.repeat(np.arange(500), scores.shape[1])
    np.testing.assert_array_equal(adapted.predict_proba(scores.reshape(-1), groups),
                                  plain.predict_proba(scores.reshape(-1), groups))


def _eval_folder(root: Path) -> Path:
    """An evaluate folder with de (seen) and fr (shifted scores) on val and test."""
    rng = np.random.default_rng(5)
    for lang, transform in (("de", lambda s: s), ("fr", lambda s: 0.6 * s**2 + 0.05)):
        for split in ("val", "test_2016_flickr"):
            scores, labels = _lists(rng, 400)
            folder = root / "translation" / lang / split
            folder.mkdir(parents=True)
            _run(transform(scores), labels).save(folder / "scored.npz")
    return write_raw_views(root)


def _calibrate(root: Path):  # type: ignore[no-untyped-def]
    return calibrate_transfer(root, ["identity", "temperature", "platt"], fit_lang="de", fit_split="val",
                              target_langs=["de", "fr"], target_splits=["test_2016_flickr"],
                              adaptation={"adapters": ["none", "quantile", "standardize", "mixture", "atc"],
                                          "bounds": ["oracle", "fewshot"], "fewshot_sizes": [10, 50],
                                          "fewshot_draws": 5, "bootstrap": 50})


def test_label_free_adapters_never_read_target_labels(tmp_path: Path) -> None:
    """Shuffle (then zero) the target's labels: every label-free adapted calibrator is byte-identical."""
    root = _eval_folder(tmp_path / "eval")
    out = tmp_path / "first"
    from clir_calib.transfer.outputs import write_transfer

    write_transfer(_calibrate(root), out, diagrams=False)
    target = root / "translation" / "fr" / "test_2016_flickr" / "scored.npz"
    run = ScoredRun.load(target)
    rng = np.random.default_rng(9)
    for labels in (rng.permutation(run.labels.reshape(-1)).reshape(run.labels.shape), np.zeros_like(run.labels)):
        ScoredRun(run.qids, run.doc_ids, run.scores, labels, labels.sum(axis=1).astype(np.int32)).save(target)
        again = tmp_path / f"again-{int(labels.sum())}"
        write_transfer(_calibrate(root), again, diagrams=False)
        files = sorted(p.relative_to(out) for p in (out / "adapted").rglob("*.json"))
        # none, quantile and standardize x 2 calibrators (identity is not adapted) x 2 languages, mixture for
        # the one pointwise calibrator (platt) and atc for the one listwise one (temperature) x 2 languages
        assert len(files) == 3 * 2 * 2 + 1 * 2 + 1 * 2
        for name in files:
            assert (again / name).read_bytes() == (out / name).read_bytes(), name
    assert np.array_equal(target_scores(target).scores, run.scores.astype(np.float64))


def test_adapted_file_reproduces_the_numbers_and_bounds_are_reported(tmp_path: Path) -> None:
    root = _eval_folder(tmp_path / "eval")
    result = _calibrate(root)
    rows = {(r.calibrator, r.lang, r.method): r for r in result.adaptation.rows}
    assert {"none", "quantile", "standardize", "mixture", "oracle", "fewshot-10", "fewshot-50"} <= {
        m for (_, _, m) in rows}
    assert rows[("platt", "fr", "fewshot-50")].draws == 5 and "ece_equal_width" in rows[("platt", "fr", "fewshot-50")].sd
    from clir_calib.transfer.outputs import adapted_file, write_transfer

    write_transfer(result, tmp_path / "out", diagrams=False)
    loaded = load_calibrator(tmp_path / "out" / adapted_file("translation", "platt", "quantile", "fr", "test_2016_flickr"))
    run = ScoredRun.load(root / "translation" / "fr" / "test_2016_flickr" / "scored.npz")
    ece = calibrated_view(run, loaded, 10).report(15).ece_equal_width
    assert ece == pytest.approx(rows[("platt", "fr", "quantile")].metrics["ece_equal_width"], abs=1e-12)
    # the monotone shift of fr is what quantile matching undoes: it closes most of the gap to the oracle
    none, quantile, oracle = (rows[("platt", "fr", m)].metrics["ece_equal_width"] for m in ("none", "quantile", "oracle"))
    assert quantile < none and (none - quantile) > 0.5 * (none - oracle)
    data = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert len(data["adaptation"]) == len(result.adaptation.rows)


def test_hook_register_transfer_adapters(tmp_path: Path) -> None:
    from clir_calib import hookimpl
    from clir_calib.adapters.base import TransferAdapter

    class ShiftAdapter(TransferAdapter):
        """Moves target scores by the difference of the mean scores (a toy plugin)."""

        name = "test-shift"
        description = "Shift target scores onto the seen language's mean."

        def _fit(self, source: SourceScores, target: TargetScores) -> None:
            self.shift = float(source.scores.mean() - target.scores.mean())

        def target_transform(self, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
            return scores + self.shift

        def state(self) -> dict[str, float]:
            return {"shift": self.shift}

        def set_state(self, state: dict[str, float]) -> None:
            self.shift = float(state["shift"])

    class Plugin:
        @hookimpl
        def register_transfer_adapters(self, register):  # type: ignore[no-untyped-def]
            register(ShiftAdapter)

    plugins.pm.register(Plugin(), name="test-adapter-plugin")
    try:
        root = _eval_folder(tmp_path / "eval")
        result = calibrate_transfer(root, ["platt"], target_langs=["de", "fr"], target_splits=["test_2016_flickr"],
                                    adaptation={"adapters": ["test-shift"], "bootstrap": 0})
        assert {row.method for row in result.adaptation.rows} == {"test-shift"}
        from clir_calib.transfer.outputs import adapted_file, write_transfer

        write_transfer(result, tmp_path / "out", diagrams=False)
        loaded = load_calibrator(tmp_path / "out" / adapted_file("translation", "platt", "test-shift", "fr",
                                                                 "test_2016_flickr"))
        assert loaded.adapter.shift == pytest.approx(result.adaptation.adapted[
            ("translation", "platt", "test-shift", "fr", "test_2016_flickr")].adapter.shift)
    finally:
        plugins.pm.unregister(name="test-adapter-plugin")


def test_a_calibrator_that_cannot_take_an_adapters_scores_is_skipped_with_the_reason(tmp_path: Path) -> None:
    """beta (cosine mapping) on standardize's scores: a recorded skip; the other combinations still run.

    Oracle-like lists (the top candidate at cosine 1.0, the rest far below) push standardized scores past 1."""
    root = tmp_path / "eval"
    rng = np.random.default_rng(2)
    for lang in ("de", "fr"):
        for split in ("val", "test_2016_flickr"):
            scores, labels = _lists(rng, 200)
            scores[:, 0] = 1.0
            scores[:, 1:] = 0.2 + 0.05 * np.sort(rng.random((200, 7)), axis=1)[:, ::-1]
            folder = root / "translation" / lang / split
            folder.mkdir(parents=True)
            _run(scores, labels).save(folder / "scored.npz")
    write_raw_views(root)
    result = calibrate_transfer(root, ["beta", "platt"], fit_lang="de", fit_split="val", target_langs=["de", "fr"],
                                target_splits=["test_2016_flickr"],
                                adaptation={"adapters": ["none", "standardize"], "bounds": [], "bootstrap": 20})
    assert result.adaptation is not None
    reasons = [s["why"] for s in result.adaptation.skipped]
    assert any("beta cannot be fitted on standardize's scores" in why for why in reasons)
    done = {(r.calibrator, r.method) for r in result.adaptation.rows}
    assert ("platt", "standardize") in done and ("beta", "none") in done and ("beta", "standardize") not in done


def test_mixture_normal_density_is_scipys_bit_for_bit() -> None:
    """The EM loop's own normal density (no scipy argument handling) gives scipy's numbers exactly."""
    from scipy.stats import norm

    from clir_calib.adapters.mixture import _normal_pdf

    rng = np.random.default_rng(0)
    for _ in range(50):
        x, mu, sd = rng.normal(size=500) * rng.uniform(0.1, 5.0), float(rng.normal()), float(rng.uniform(1e-3, 3.0))
        assert np.array_equal(_normal_pdf(x, mu, sd), norm.pdf(x, mu, sd))


def test_bounds_shared_with_a_helper_process_are_the_ones_computed_here(tmp_path: Path) -> None:
    """The few-shot and oracle bounds go to helper processes on spare cores: every row, skip and adapted
    calibrator is the same, in the same order, as with one core (this process alone)."""
    import dataclasses

    from clir_calib import shared_work

    root = _eval_folder(tmp_path / "eval")
    results = []
    for cores in (1, 2):
        shared_work.set_core_budget(cores)
        try:
            results.append(_calibrate(root))
        finally:
            shared_work.set_core_budget(None)
    alone, shared = results
    assert [r.to_dict() for r in shared.adaptation.rows] == [r.to_dict() for r in alone.adaptation.rows]
    assert any(r.method.startswith("fewshot") for r in shared.adaptation.rows)
    assert shared.adaptation.skipped == alone.adaptation.skipped
    assert list(shared.adaptation.adapted) == list(alone.adaptation.adapted)
    assert [dataclasses.asdict(r) for r in shared.rows] == [dataclasses.asdict(r) for r in alone.rows]
