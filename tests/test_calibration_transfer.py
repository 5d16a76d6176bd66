"""The calibration-transfer experiment and the `calibrate` command, on synthetic evaluate folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clir_calib.calibrators import load_calibrator
from clir_calib.cli import app
from clir_calib.errors import ConfigError, DataError, UnknownPluginError
from clir_calib.metrics.calibration import calibration_report
from clir_calib.retrieval.scored import ScoredRun
from clir_calib.transfer.outputs import write_transfer
from clir_calib.transfer.zero_shot import calibrate_transfer, calibration_of
from tests.fixtures_data import write_raw_views


def synthetic_run(seed: int, centre: float, queries: int = 150, k: int = 20, true_t: float = 0.02) -> ScoredRun:
    """Rank-ordered cosine-like scores; the relevant document drawn from softmax(s / true_t), 10% not retrieved."""
    rng = np.random.default_rng(seed)
    scores = -np.sort(-rng.normal(centre, 0.03, size=(queries, k)), axis=1)
    labels = np.zeros((queries, k), dtype=np.int8)
    for q in range(queries):
        if rng.uniform() < 0.9:
            p = np.exp((scores[q] - scores[q].max()) / true_t)
            labels[q, rng.choice(k, p=p / p.sum())] = 1
    return ScoredRun(
        qids=[f"q{q}" for q in range(queries)],
        doc_ids=[[f"d{q}-{j}" for j in range(k)] for q in range(queries)],
        scores=scores.astype(np.float32),
        labels=labels,
        n_relevant=np.ones(queries, dtype=np.int32),
    )


def make_eval_dir(root: Path, tasks: tuple[str, ...] = ("translation",), shifts: dict[str, float] | None = None) -> Path:
    """de and fr share a score distribution; cs scores sit lower (a language the mapping does not fit)."""
    shifts = shifts or {"de": 0.8, "fr": 0.8, "cs": 0.72}
    for t, task in enumerate(tasks):
        for i, (lang, centre) in enumerate(shifts.items()):
            for s, split in enumerate(("val", "test_2016_flickr")):
                folder = root / task / lang / split
                folder.mkdir(parents=True)
                synthetic_run(100 * t + 10 * i + s, centre).save(folder / "scored.npz")
    return write_raw_views(root)  # how evaluate read the raw scores: calibrate's "before" views use it


CALIBRATORS = ["identity", "temperature", "platt", "isotonic", "histogram", "beta"]


def test_transfer_rows_gaps_and_unchanged_application(tmp_path: Path) -> None:
    root = make_eval_dir(tmp_path / "eval")
    result = calibrate_transfer(root, CALIBRATORS, depth=5)
    assert result.tasks == ["translation"]
    assert result.target_langs == ["de", "fr", "cs"]
    by_key = {row.key(): row for row in result.rows}
    assert len(result.rows) == len(CALIBRATORS) * 4  # fit set + three targets
    for name in CALIBRATORS:
        fit = by_key[("translation", name, "de", "val")]
        seen = by_key[("translation", name, "de", "test_2016_flickr")]
        assert fit.role == "fit" and seen.role == "seen" and seen.gap is None
        for lang in ("fr", "cs"):
            row = by_key[("translation", name, lang, "test_2016_flickr")]
            assert row.role == "unseen"
            assert row.gap is not None and row.gap_before is not None
            assert row.gap["ece_equal_width"] == pytest.approx(row.after.ece_equal_width - seen.after.ece_equal_width)
            assert row.gap_before["ece_equal_mass"] == pytest.approx(row.before.ece_equal_mass - seen.before.ece_equal_mass)
    # identity changes nothing; the listwise row is judged on one pair per query, pointwise on top-5
    identity = by_key[("translation", "identity", "fr", "test_2016_flickr")]
    assert identity.before == identity.after and identity.after.n == 150 * 5
    assert by_key[("translation", "temperature", "fr", "test_2016_flickr")].after.n == 150
    # calibrators fitted on de lower ECE on de test, and the shifted language keeps a clear positive gap
    for name in ("platt", "isotonic", "histogram", "beta", "temperature"):
        seen = by_key[("translation", name, "de", "test_2016_flickr")]
        assert seen.after.ece_equal_width < seen.before.ece_equal_width
    platt_cs = by_key[("translation", "platt", "cs", "test_2016_flickr")]
    platt_fr = by_key[("translation", "platt", "fr", "test_2016_flickr")]
    assert platt_cs.gap is not None and platt_fr.gap is not None
    assert platt_cs.gap["ece_equal_width"] > 0.05 > abs(platt_fr.gap["ece_equal_width"])
    # the fitted calibrator is applied unchanged: refitting on the target would do better there
    target = ScoredRun.load(root / "translation" / "cs" / "test_2016_flickr" / "scored.npz")
    calibrator = result.calibrators[("translation", "platt")]
    assert calibration_of(calibrator, target, 5, 15) == platt_cs.after
    assert calibrator.fitted_on["lang"] == "de" and calibrator.fitted_on["split"] == "val"


def test_write_transfer_outputs_reload_and_reapply(tmp_path: Path) -> None:
    root = make_eval_dir(tmp_path / "eval", tasks=("translation", "description"))
    result = calibrate_transfer(root, ["identity", "temperature", "platt"], target_langs=["fr", "cs"], depth=5)
    assert result.target_langs == ["de", "fr", "cs"]  # the seen language is always a target (for the gap)
    out = write_transfer(result, tmp_path / "out", config=None, diagrams=False)
    data = json.loads((out / "calibration.json").read_text())
    assert data["fit"] == {"lang": "de", "split": "val"} and len(data["rows"]) == 2 * 3 * 4
    assert data["rows"][0]["after"]["equal_width_bins"]["count"]
    rows = list(csv.DictReader((out / "calibration.csv").open()))
    assert len(rows) == 24 and {r["role"] for r in rows} == {"fit", "seen", "unseen"}
    markdown = (out / "calibration.md").read_text()
    assert "## description / test_2016_flickr" in markdown and "gap cs" in markdown
    for task in ("translation", "description"):
        for name in ("identity", "temperature", "platt"):
            loaded = load_calibrator(out / "calibrators" / task / f"{name}.json")
            run = ScoredRun.load(root / task / "fr" / "test_2016_flickr" / "scored.npz")
            row = next(r for r in result.rows if r.key() == (task, name, "fr", "test_2016_flickr"))
            assert calibration_of(loaded, run, 5, 15) == row.after
    assert not (out / "diagrams").exists()
    with pytest.raises(ConfigError, match="already exists; pass --overwrite"):
        write_transfer(result, out, diagrams=False)


def test_write_transfer_diagrams(tmp_path: Path) -> None:
    root = make_eval_dir(tmp_path / "eval", shifts={"de": 0.8, "cs": 0.72})
    result = calibrate_transfer(root, ["identity", "temperature"], target_langs=["cs"], depth=5)
    out = write_transfer(result, tmp_path / "out", diagrams=True)
    pngs = sorted(p.name for p in (out / "diagrams" / "translation" / "cs" / "test_2016_flickr").iterdir())
    assert pngs == ["identity.png", "raw_listwise.png", "raw_pointwise.png", "temperature.png"]
    assert (out / "diagrams" / "translation" / "de" / "val" / "temperature.png").is_file()
    assert (out / "diagrams" / "translation" / "transfer_gap_test_2016_flickr.png").read_bytes()[:4] == b"\x89PNG"


def test_transfer_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        calibrate_transfer(tmp_path / "missing", ["platt"])
    root = make_eval_dir(tmp_path / "eval")
    with pytest.raises(DataError, match="evaluate.splits"):
        calibrate_transfer(root, ["platt"], fit_lang="fr", fit_split="test_2017_flickr")
    with pytest.raises(DataError, match="description/de/val"):
        calibrate_transfer(root, ["platt"], tasks=["description"])
    with pytest.raises(UnknownPluginError, match="available"):
        calibrate_transfer(root, ["nope"])
    with pytest.raises(ConfigError, match="not in use"):
        calibrate_transfer(root, ["platt"], params={"beta": {"mapping": "sigmoid"}})
    with pytest.raises(ConfigError, match="unknown parameter"):
        calibrate_transfer(root, ["platt"], params={"platt": {"slope": 2}})
    with pytest.raises(ConfigError, match="unknown language"):
        calibrate_transfer(root, ["platt"], target_langs=["xx"])
    with pytest.raises(ConfigError, match="unknown split 'test_2017_flickr': .* has test_2016_flickr, val evaluated"):
        calibrate_transfer(root, ["platt"], target_splits=["test_2017_flickr"])
    # a fit set without any relevant candidate cannot be fitted
    empty = synthetic_run(5, 0.8)
    empty.labels[:] = 0
    empty.save(root / "translation" / "de" / "val" / "scored.npz")
    with pytest.raises(DataError, match="no relevant pairs"):
        calibrate_transfer(root, ["platt"])


def test_calibrate_cli_end_to_end(tmp_path: Path) -> None:
    root = make_eval_dir(tmp_path / "eval")
    runner = CliRunner()
    args = ["calibrate", "--eval", str(root), "--calibrators", "identity,temperature,isotonic", "--no-diagrams",
            "--set", "evaluate.pointwise_depth=5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = root / "calibration-de-val"
    assert "isotonic" in result.output and "gap cs" in result.output
    assert (out / "calibrators" / "translation" / "isotonic.json").is_file()
    assert "pointwise_depth: 5" in (out / "config.yaml").read_text()
    assert json.loads((out / "calibration.json").read_text())["pointwise_depth"] == 5
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    bad = runner.invoke(app, ["calibrate", "--eval", str(root), "--calibrators", "platt", "--fit-split", "train"])
    # train is distillation bitext, which evaluate refuses: the hint must not send the user there
    assert bad.exit_code == 2 and "use --fit-split val" in bad.output and "evaluate.splits" not in bad.output


def test_transfer_reports_match_direct_measurement(tmp_path: Path) -> None:
    root = make_eval_dir(tmp_path / "eval")
    result = calibrate_transfer(root, ["identity"], bins=10, depth=3, raw={"scale": 20.0, "bias": -10.0})
    run = ScoredRun.load(root / "translation" / "cs" / "test_2016_flickr" / "scored.npz")
    probabilities = 1 / (1 + np.exp(-(20.0 * run.scores[:, :3].astype(np.float64) - 10.0)))
    direct = calibration_report(probabilities.ravel(), run.labels[:, :3].ravel(), bins=10)
    row = next(r for r in result.rows if r.key() == ("translation", "identity", "cs", "test_2016_flickr"))
    assert row.before == direct  # "before" is evaluate's raw pointwise view with the same parameters
    from clir_calib.evaluation.views import raw_views

    assert raw_views(run, scale=20.0, bias=-10.0, depth=3)["pointwise"].report(10) == direct


def test_calibrate_on_a_real_evaluate_folder(tmp_path: Path, prepared_dir: Path, tiny_model_dir: Path) -> None:
    """evaluate (tiny model, fake Multi30k) -> calibrate -> evaluate --calibrator reproduces the numbers."""
    runner = CliRunner()
    common = ["--device", "cpu", "evaluate", "--prepared", str(prepared_dir), "--teacher", str(tiny_model_dir),
              "-m", str(tiny_model_dir), "--top-k", "10", "--bootstrap", "0", "--no-progress",
              "--set", f"evaluate.index_dir={tmp_path / 'index'}", "--set", "evaluate.pointwise_depth=4"]
    evaluated = tmp_path / "eval"
    result = runner.invoke(app, [*common, "--langs", "de,fr", "--tasks", "translation", "--splits",
                                 "val,test_2016_flickr", "--out", str(evaluated)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "calibration"
    result = runner.invoke(app, ["calibrate", "--eval", str(evaluated), "--calibrators", "temperature,platt",
                                 "--langs", "de,fr", "--out", str(out), "--no-diagrams"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "calibration.json").read_text())
    assert data["pointwise_depth"] == 4  # taken from the evaluate folder's config.yaml
    rows = {(r["calibrator"], r["lang"], r["split"]): r for r in data["rows"]}
    assert rows[("platt", "fr", "test_2016_flickr")]["role"] == "unseen"
    for name in ("temperature", "platt"):
        applied = tmp_path / f"eval-{name}"
        result = runner.invoke(app, [*common, "--langs", "fr", "--tasks", "translation", "--splits", "test_2016_flickr",
                                     "--calibrator", str(out / "calibrators" / "translation" / f"{name}.json"),
                                     "--out", str(applied)])
        assert result.exit_code == 0, result.output
        metrics = json.loads((applied / "translation" / "fr" / "test_2016_flickr" / "metrics.json").read_text())
        calibrated = metrics["calibration"]["calibrated"]["metrics"]
        assert calibrated["ece_equal_width"]["value"] == pytest.approx(
            rows[(name, "fr", "test_2016_flickr")]["ece_equal_width_after"])
