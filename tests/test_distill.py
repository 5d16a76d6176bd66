"""Distillation end to end on tiny random models and the fake Multi30k: outputs, resume, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.config import load_config
from clir_calib.distill import distill
from clir_calib.distill.teacher_store import PRIVATE_FOLDER
from clir_calib.errors import ConfigError, DataError, NumericalError

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see conftest.py


RUNNER = CliRunner()
FAST = ["distill.batch_size=8", "distill.max_pairs=32", "distill.epochs=2", "distill.eval_every=3",
        "distill.save_every=2", "distill.lr=1e-3", "distill.val_pairs=16", "models.teacher.max_length=24",
        "models.student.max_length=24", "device=cpu"]


def tiny_config(prepared: Path, teacher: Path, student: Path, *extra: str):  # type: ignore[no-untyped-def]
    return load_config(None, [f"data.prepared={prepared}", f"models.teacher.name={teacher}",
                              f"models.student.name={student}", *FAST, *extra])


def test_cli_run_writes_a_loadable_student_with_log_card_and_result(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "de-ot"
    args = ["distill", "--lang", "de", "--loss", "ot+0.5*mse", "--teacher", str(tiny_model_dir), "--student",
            str(tiny_model_dir), "--data", str(prepared_dir), "--out", str(out), "--no-progress",
            "--set", "distill.select=last"]  # the last step: the weights below must have moved
    for item in FAST:
        args += ["--set", item]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "val accuracy en->xx after" in result.output

    from transformers import AutoModel

    from clir_calib.models import Encoder

    AutoModel.from_pretrained(out)
    encoder = Encoder.from_pretrained(out)
    assert encoder.encode(["ein hund"], role="passage").shape == (1, 32)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1] == {"event": "select", "step": 8, "select": "last", "selected_step": 8,
                       "val_accuracy": log[-3]["val_accuracy"]}
    assert log[-2] == {"event": "stop", "step": 8, "reason": "finished the configured epochs (8 steps)"}
    log = log[:-2]
    assert log[0]["step"] == 0 and log[-1]["event"] == "final" and log[-1]["step"] == 8
    assert [r["step"] for r in log] == [0, 3, 6, 8]
    assert all(0.0 <= r["val_accuracy"] <= 1.0 for r in log) and "loss_ot" in log[1]
    summary = json.loads((out / "result.json").read_text())
    assert summary["val_accuracy_after"] == log[-1]["val_accuracy"]
    assert summary["val_accuracy_before"] == log[0]["val_accuracy"]
    assert [t["name"] for t in summary["losses"]] == ["ot", "mse"] and summary["losses"][1]["weight"] == 0.5
    card = (out / "README.md").read_text()
    assert str(tiny_model_dir) in card and "epsilon=0.05" in card and f"{summary['val_accuracy_after']:.4f}" in card
    header = yaml.safe_load(card.split("---")[1])  # the Hugging Face metadata header
    assert header["library_name"] == "sentence-transformers" and header["base_model"] == str(tiny_model_dir)
    assert header["language"] == ["en", "de"] and header["datasets"] == ["multi30k"]
    assert (out / "modules.json").is_file() and (out / "1_Pooling" / "config.json").is_file()
    saved = load_config(out / "config.yaml")
    assert saved.distill.lang == "de" and saved.distill.max_pairs == 32
    # the student really changed, the frozen word embeddings did not
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(out / "model.safetensors")
    assert torch.equal(before["embeddings.word_embeddings.weight"], after["embeddings.word_embeddings.weight"])
    assert not torch.equal(before["encoder.layer.0.attention.self.query.weight"],
                           after["encoder.layer.0.attention.self.query.weight"])
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-0000006"]
    again = RUNNER.invoke(app, args)
    assert again.exit_code == 2 and "already holds a finished" in again.output, (again.output, again.exception)


KILLER = textwrap.dedent("""
    import os, signal, sys
    from clir_calib.config import load_config
    from clir_calib.distill import distill

    def stop(step):
        if step == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)

    distill(load_config(None, sys.argv[3:]), sys.argv[1], on_step=stop)
""")


@pytest.mark.parametrize("top", [None, 1], ids=["every-layer", "top-layer-from-the-cache"])
def test_sigkilled_run_resumes_to_the_same_weights(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path,
                                                   top: int | None) -> None:
    overrides = [f"data.prepared={prepared_dir}", f"models.teacher.name={tiny_model_dir}",
                 f"models.student.name={tiny_model_dir}", *FAST, "distill.grad_accum=2", "distill.batch_size=4",
                 "distill.save_every=1", "distill.max_pairs=30",
                 *([f"distill.train_top_layers={top}"] if top else [])]  # the cache is rebuilt on resume
    # 30 pairs / 4 = 8 micro-batches -> 4 steps per epoch (a short last batch), 8 steps in all
    cfg = load_config(None, overrides)
    straight = distill(cfg, tmp_path / "straight")

    killed = tmp_path / "killed"
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    scratch = tmp_path / "system-temp"
    scratch.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1",  # the same thread count as this process (bitwise equality)
           "TMPDIR": str(scratch)}
    proc = subprocess.run([sys.executable, str(script), str(killed), "5", *overrides], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not any(scratch.iterdir())  # a kill leaves nothing in the system's temp folder
    assert any((killed / PRIVATE_FOLDER).rglob("states.npy"))  # the teacher's outputs wait in the run for a resume
    assert not (tmp_path / "straight" / PRIVATE_FOLDER).exists()
    assert not (killed / "result.json").exists() and not (killed / "model.safetensors").exists()
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == ["step-0000004", "step-0000005"]
    # lose the newest checkpoint too: the resumed run must replay step 5 exactly
    import shutil

    shutil.rmtree(killed / "checkpoints" / "step-0000005")

    with pytest.raises(ConfigError, match="pass --resume"):
        distill(cfg, killed)
    with pytest.raises(ConfigError, match=r"distill\.lr differs"):
        distill(load_config(None, [*overrides, "distill.lr=2e-3"]), killed, resume=True)
    resumed = distill(cfg, killed, resume=True)
    assert resumed.resumed_from_step == 4 and resumed.steps == 8
    assert not (killed / PRIVATE_FOLDER).exists()

    ours, theirs = load_file(killed / "model.safetensors"), load_file(tmp_path / "straight" / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name
    log = [json.loads(line) for line in (killed / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["event"] not in ("select", "stop")] == [0, 3, 6, 8]
    assert resumed.val_accuracy_after == straight.val_accuracy_after
    assert resumed.val_accuracy_before == straight.val_accuracy_before


def test_width_mismatch_needs_the_projection(
    prepared_dir: Path, tiny_model_dir: Path, tiny_model_dir_wide: Path, tmp_path: Path
) -> None:
    out = tmp_path / "wide"
    with pytest.raises(ConfigError, match="distill.projection=true"):
        distill(tiny_config(prepared_dir, tiny_model_dir_wide, tiny_model_dir), out)
    assert not out.exists()
    result = distill(tiny_config(prepared_dir, tiny_model_dir_wide, tiny_model_dir, "distill.projection=true",
                                 "distill.epochs=1"), out)
    assert result.projection
    projection = load_file(out / "projection.safetensors")
    assert projection["weight"].shape == (48, 32) and projection["bias"].shape == (48,)
    assert "projection.safetensors" in (out / "README.md").read_text()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--loss", "wasserstein"], "unknown alignment loss 'wasserstein'; available: "),
        (["--lang", "xx"], "unknown language 'xx'"),
        (["--loss", "ot+abc*mse"], "is not a number"),
        (["--set", "distill.batch_size=0"], "batch_size must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    flags: list[str], message: str, prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "never"
    result = RUNNER.invoke(app, ["distill", "--teacher", str(tiny_model_dir), "--student", str(tiny_model_dir),
                                 "--data", str(prepared_dir), "--out", str(out), *flags])
    assert result.exit_code == 2
    assert message in result.output and result.output.strip().count("\n") == 0
    assert not out.exists()


def test_empty_bitext_is_refused(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from clir_calib.data.store import Bitext
    from clir_calib.distill import setup

    monkeypatch.setattr(setup, "load_bitext", lambda *a, **k: Bitext([], [], [], lang="de", split="train"))
    out = tmp_path / "empty"
    with pytest.raises(DataError, match="bitext .* is empty"):
        distill(tiny_config(prepared_dir, tiny_model_dir, tiny_model_dir), out)
    assert not out.exists()


def test_a_nan_loss_stops_the_run(prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from clir_calib.losses.mse import MSEAlignmentLoss

    monkeypatch.setattr(MSEAlignmentLoss, "forward", lambda self, s, t, src=None: s.pooled.sum() * float("nan"))
    out = tmp_path / "nan"
    with pytest.raises(NumericalError, match="loss is nan at step 1"):
        distill(tiny_config(prepared_dir, tiny_model_dir, tiny_model_dir, "distill.losses=[mse]"), out)
    assert not (out / "result.json").exists() and not (out / "model.safetensors").exists()
