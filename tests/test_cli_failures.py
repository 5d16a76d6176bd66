"""Each failure kind of the adversarial pass: one line and exit 2 (or a bug report), never a traceback.

The cases that once ended in a traceback, a silent fallback or a misleading hint, in the order of the
hardening issue: file-system errors, bugs, Ctrl-C, unreadable inputs, silent garbage, hints.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_checks import one_line_error as _one_line_error
from typer.testing import CliRunner

from clir_calib.cli import app

RUNNER = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")




@pytest.mark.parametrize("code,hint", [(errno.EROFS, "read-only"), (errno.ENOSPC, "no space left"),
                                       (errno.EACCES, "permission denied"), (errno.EDQUOT, "quota")])
def test_file_system_errors_during_a_write_are_one_line(code: int, hint: str, fake_multi30k: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from clir_calib.data import prepare as prepare_module

    real = prepare_module._write_all

    def failing(tmp, *args, **kwargs):  # type: ignore[no-untyped-def]
        real(tmp, *args, **kwargs)
        raise OSError(code, os.strerror(code), str(tmp / "bitext"))

    monkeypatch.setattr(prepare_module, "_write_all", failing)
    out = tmp_path / "prepared"
    line = _one_line_error(RUNNER.invoke(app, ["prepare", "--source", str(fake_multi30k), "--out", str(out),
                                               "--langs", "de", "--splits", "val"]))
    assert hint in line and "bitext" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written, no temporary folder


def test_out_below_a_file_is_one_line(fake_multi30k: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    line = _one_line_error(RUNNER.invoke(app, ["prepare", "--source", str(fake_multi30k), "--out",
                                               str(tmp_path / "file" / "prepared"), "--langs", "de"]))
    assert "file: is a file; a folder is needed there" in line


def test_cache_variable_naming_a_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("CLIR_CALIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = RUNNER.invoke(app, ["align", "a dog", "ein hund", "--out", str(tmp_path / "a.png")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_a_bug_is_a_short_report_with_a_crash_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clir_calib.cli import plugins_cmd

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("an unexpected bug")

    monkeypatch.setenv("CLIR_CALIB_CACHE", str(tmp_path))
    monkeypatch.setattr(plugins_cmd, "plugin_listing", broken)
    line = _one_line_error(RUNNER.invoke(app, ["plugins"]), code=1)
    assert "internal error (TypeError: an unexpected bug)" in line and "This is a bug" in line
    (log,) = (tmp_path / "logs").glob("crash-*.log")
    assert "Traceback" in log.read_text() and str(log) in line
    verbose = RUNNER.invoke(app, ["-v", "plugins"])
    assert verbose.exit_code == 1 and "Traceback" in verbose.output  # -v: the traceback on the terminal


def test_ctrl_c_exits_130_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from clir_calib.cli import plugins_cmd

    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(plugins_cmd, "plugin_listing", interrupted)
    line = _one_line_error(RUNNER.invoke(app, ["plugins"]), code=130)
    assert "interrupted" in line and "--resume" in line


def test_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "latin1.yaml"
    config.write_bytes("name: caf\xe9\n".encode("latin-1"))
    line = _one_line_error(RUNNER.invoke(app, ["run", str(config)]))
    assert "not UTF-8" in line and "latin1.yaml" in line


def test_truncated_or_malformed_scored_run_is_one_line(tmp_path: Path) -> None:
    from clir_calib.errors import DataError
    from clir_calib.retrieval.scored import ScoredRun

    run = ScoredRun(["q1"], [["d1", "d2"]], np.array([[0.5, 0.1]], np.float32), np.array([[1, 0]], np.int8),
                    np.array([1], np.int32))
    path = tmp_path / "scored.npz"
    run.save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="changed since evaluate wrote it"):  # its recorded sha256 says so first
        ScoredRun.load(path)
    (tmp_path / "scored.npz.sha256").unlink()  # a folder from before digests: the reader itself must cope
    with pytest.raises(DataError, match="truncated or malformed"):
        ScoredRun.load(path)
    np.savez(path, qids=np.array(["q1"]))
    with pytest.raises(DataError, match="truncated or malformed"):
        ScoredRun.load(path)


def test_model_folder_without_tokenizer_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from clir_calib.errors import ModelError
    from clir_calib.models.encoder import Encoder

    folder = tmp_path / "weights-only"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, folder / name)
    with pytest.raises(ModelError, match="no tokenizer files"):
        Encoder.from_pretrained(folder, device="cpu")


def test_pickle_only_weights_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from clir_calib.errors import ModelError
    from clir_calib.models.encoder import Encoder

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="cannot load the model"):
        Encoder.from_pretrained(folder, device="cpu")


def test_calibrator_with_non_finite_state_is_refused(tmp_path: Path) -> None:
    from clir_calib.calibrators.files import load_calibrator
    from clir_calib.calibrators.logistic import PlattCalibrator
    from clir_calib.errors import DataError

    rng = np.random.default_rng(0)
    scores = rng.normal(size=100)
    fitted = PlattCalibrator().fit(scores, (scores > 0).astype(np.int64), fitted_on={})
    data = fitted.to_dict()
    data["state"]["slope"] = float("nan")
    path = tmp_path / "platt.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="non-finite number"):
        load_calibrator(path)


def test_changed_embedding_cache_is_encoded_again(tiny_model_dir: Path, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from clir_calib.models.encoder import Encoder
    from clir_calib.retrieval.index import encode_cached

    encoder = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    texts = ["ein hund", "eine katze", "ein mann"]
    first = encode_cached(encoder, ["a", "b", "c"], texts, "passage", tmp_path, "translation", "val", "de")
    np.save(first.path / "embeddings.npy", np.zeros_like(first.embeddings))  # same shape, other vectors
    again = encode_cached(encoder, ["a", "b", "c"], texts, "passage", tmp_path, "translation", "val", "de")
    assert not again.reused and np.allclose(again.embeddings, first.embeddings)
    assert "fails its content check" in caplog.text


def test_hints_lead_somewhere(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    line = _one_line_error(RUNNER.invoke(app, ["distill", "--teacher", str(tiny_model_dir), "--student",
                                               str(tiny_model_dir), "--data", str(prepared_dir), "--out", str(stray),
                                               "--no-progress", "--set", "device=cpu"]))
    assert "not a distillation run" in line and "--resume" not in line
    from clir_calib.config import load_config

    cfg = load_config(None, ["calibrate.params.histogram.bins=5"])  # the README's example
    assert cfg.calibrate.params == {"histogram": {"bins": 5}}


def test_fit_language_that_was_not_evaluated_names_the_languages(tmp_path: Path) -> None:
    from clir_calib.errors import DataError
    from clir_calib.transfer.zero_shot import calibrate_transfer
    from tests.test_calibration_transfer import make_eval_dir

    root = make_eval_dir(tmp_path / "eval")
    present = sorted({p.parent.parent.name for p in root.glob("*/*/*/scored.npz")})
    shutil.rmtree(root / "translation" / "cs", ignore_errors=True)
    shutil.rmtree(root / "description" / "cs", ignore_errors=True)
    with pytest.raises(DataError, match=r"it has languages .* only; evaluate cs too"):
        calibrate_transfer(root, ["platt"], fit_lang="cs", target_langs=["de"])
    assert present


def test_align_out_naming_a_folder_is_one_line(tmp_path: Path) -> None:
    from clir_calib.alignment import AlignmentPlan, plot_alignment
    from clir_calib.errors import DataError

    plan = AlignmentPlan(["a"], ["b"], np.ones((1, 1)), np.zeros((1, 1)), 0.0, 0.05)
    with pytest.raises(DataError, match="is a folder; name the PNG file"):
        plot_alignment(plan, tmp_path)


def test_checkpoint_beyond_the_data_is_refused(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["--device", "cpu", "distill", "--teacher", str(tiny_model_dir), "--student", str(tiny_model_dir), "--data",
            str(prepared_dir), "--out", str(out), "--no-progress", "--set", "distill.max_pairs=16", "--set",
            "distill.batch_size=8", "--set", "distill.save_every=1", "--set", "distill.eval_every=10"]
    assert RUNNER.invoke(app, args).exit_code == 0
    (out / "result.json").unlink()
    checkpoint = sorted((out / "checkpoints").iterdir())[-1]
    (checkpoint / "position.json").write_text(json.dumps({"step": 999, "epoch": 0, "micro_batch": 0}))
    line = _one_line_error(RUNNER.invoke(app, [*args, "--resume"]))
    assert "beyond this run's" in line


def test_stage_outputs_carry_a_content_hash_checked_on_read(tmp_path: Path) -> None:
    from clir_calib.adapters.base import target_scores
    from clir_calib.errors import DataError
    from clir_calib.retrieval.scored import ScoredRun

    def run(score: float) -> ScoredRun:
        return ScoredRun(["q1"], [["d1", "d2"]], np.array([[score, 0.1]], np.float32), np.array([[1, 0]], np.int8),
                         np.array([1], np.int32))

    path = tmp_path / "scored.npz"
    run(0.5).save(path)
    digest = (tmp_path / "scored.npz.sha256").read_text()
    assert ScoredRun.load(path).scores[0, 0] == pytest.approx(0.5)
    run(0.9).save(path)  # a valid file, written by something else ...
    (tmp_path / "scored.npz.sha256").write_text(digest)  # ... while the recorded hash is the old one
    with pytest.raises(DataError, match="changed since evaluate wrote it"):
        ScoredRun.load(path)
    with pytest.raises(DataError, match="changed since evaluate wrote it"):
        target_scores(path)


def test_teacher_store_shards_are_checked_against_their_digests(tiny_model_dir: Path, tmp_path: Path) -> None:
    from clir_calib.distill.teacher_store import TeacherStore
    from clir_calib.errors import DataError
    from clir_calib.models.encoder import Encoder

    teacher = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    store = TeacherStore(str(tmp_path / "store"), teacher, "passage", "no")
    store.ensure(["a dog runs", "a man sits"])
    (shard,) = [p for p in store.folder.iterdir() if p.name.startswith("shard-")]
    pooled = np.load(shard / "pooled.npy")
    np.save(shard / "pooled.npy", pooled + 1.0)
    with pytest.raises(DataError, match="pooled.npy changed since it was written"):
        TeacherStore(str(tmp_path / "store"), teacher, "passage", "no").ensure(["a dog runs"])


def test_gzip_that_inflates_beyond_the_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from clir_calib.data import readers
    from clir_calib.errors import DataError

    monkeypatch.setattr(readers, "MAX_DECOMPRESSED_BYTES", 10_000)
    bomb = tmp_path / "val.de.gz"
    bomb.write_bytes(gzip.compress(b"a" * 1_000_000))  # 1 MB of one letter: about 1 kB compressed
    with pytest.raises(DataError, match="inflates to more than"):
        readers.read_text_file(bomb)
