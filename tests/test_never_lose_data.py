"""An output never deletes an input, and everything the tool wrote is read back through one guarded reader.

The cases of the "never lose a user's data" issue, each as it was reported: ``--overwrite``/``--force`` onto an
input, a name that climbs out of the output folder, SIGTERM, and stored outputs damaged after they were written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_checks import one_line_error as _one_line_error
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.errors import DataError

RUNNER = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")




def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path, tiny_model_dir: Path) -> Path:
    """An evaluate folder of the tiny model on the fake data (read-only: tests copy it to damage it)."""
    work = tmp_path_factory.mktemp("never-lose")
    out = work / "eval"
    result = RUNNER.invoke(app, ["--device", "cpu", "evaluate", "--prepared", str(prepared_dir), "--teacher",
                                 str(tiny_model_dir), "-m", str(tiny_model_dir), "--langs", "de,fr", "--splits", "val,test_2016_flickr", "--top-k", "10",
                                 "--bootstrap", "20", "--set", f"evaluate.index_dir={work / 'index'}",
                                 "--set", "evaluate.diagrams=none", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _copy(folder: Path, tmp_path: Path, name: str = "copy") -> Path:
    return Path(shutil.copytree(folder, tmp_path / name, symlinks=True))


# --- 1. an output never deletes an input ------------------------------------------------------------------------

def test_evaluate_out_onto_its_prepared_data_is_refused(prepared_dir: Path, tiny_model_dir: Path,
                                                         tmp_path: Path) -> None:
    prepared = _copy(prepared_dir, tmp_path, "prepared")
    before = _tree(prepared)
    link = tmp_path / "link"
    link.symlink_to(prepared)
    for out in (prepared, link, prepared / ".." / "prepared"):  # the same folder, however it is spelt
        line = _one_line_error(RUNNER.invoke(app, ["evaluate", "--prepared", str(prepared), "--teacher",
                                                   str(tiny_model_dir), "--out", str(out), "--overwrite"]))
        assert "never deletes an input" in line
    assert _tree(prepared) == before


def test_prepare_out_onto_its_source_is_refused(fake_multi30k: Path, tmp_path: Path) -> None:
    source = _copy(fake_multi30k, tmp_path, "source")
    before = _tree(source)
    for out in (source, source / "task1", tmp_path):  # is, lies inside, contains
        line = _one_line_error(RUNNER.invoke(app, ["prepare", "--source", str(source), "--out", str(out),
                                                   "--langs", "de", "--splits", "val", "--overwrite"]))
        assert str(source) in line and "never deletes an input" in line
    assert _tree(source) == before


def test_calibrate_out_onto_its_evaluation_is_refused_but_its_own_folder_is_replaced(evaluated: Path,
                                                                                    tmp_path: Path) -> None:
    eval_dir = _copy(evaluated, tmp_path)
    before = _tree(eval_dir)
    for out in (eval_dir, eval_dir / "translation", eval_dir / "translation" / "de"):
        line = _one_line_error(RUNNER.invoke(app, ["calibrate", "--eval", str(eval_dir), "--out", str(out),
                                                   "--overwrite", "--no-diagrams"]))
        assert "never deletes an input" in line
    assert _tree(eval_dir) == before
    for _ in range(2):  # the default folder inside the evaluation is an output of its own: replaced, not refused
        done = RUNNER.invoke(app, ["calibrate", "--eval", str(eval_dir), "--overwrite", "--no-diagrams",
                                   "--calibrators", "temperature", "--adapt", "none", "--bounds", "oracle"])
        assert done.exit_code == 0, done.output
    assert {k: v for k, v in _tree(eval_dir).items() if not k.startswith("calibration-")} == before


def test_evaluate_out_onto_the_model_it_scores_is_refused(tiny_model_dir: Path, prepared_dir: Path,
                                                         tmp_path: Path) -> None:
    model = _copy(tiny_model_dir, tmp_path, "model")
    before = _tree(model)
    for out in (model, model / "sub"):
        line = _one_line_error(RUNNER.invoke(app, ["evaluate", "--prepared", str(prepared_dir), "-m", str(model),
                                                   "--teacher", str(tiny_model_dir), "--out", str(out),
                                                   "--overwrite"]))
        assert str(model) in line
    assert _tree(model) == before


def test_report_out_onto_its_evaluation_is_refused(evaluated: Path, tmp_path: Path) -> None:
    from clir_calib.claims import check_claim
    from clir_calib.errors import ConfigError

    with pytest.raises(ConfigError, match="never deletes an input"):
        check_claim(evaluated.parent, [evaluated], replace=True)


def test_force_waits_for_the_lock_before_it_deletes_a_stage(tmp_path: Path) -> None:
    from clir_calib.locking import FolderBusyError, folder_lock
    from clir_calib.pipeline.stages import StageRunner

    runner = StageRunner(tmp_path, ("distill",), force={"distill"})
    folder, _ = runner.folder("distill", "ot-seed13", {"k": 1})
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("live run\n")
    with folder_lock(folder), pytest.raises(FolderBusyError):  # another process is distilling into it
        runner.run("distill", "ot-seed13", {"k": 1}, lambda f: {})
    assert (folder / "config.yaml").read_text() == "live run\n"
    ran = []
    runner.run("distill", "ot-seed13", {"k": 1}, lambda f: ran.append(sorted(os.listdir(f))) or {})
    assert ran == [[]]  # once free, --force starts it afresh


def test_force_never_deletes_an_input_inside_a_stage_folder(tmp_path: Path) -> None:
    from clir_calib.errors import ConfigError
    from clir_calib.pipeline.stages import StageRunner

    probe = StageRunner(tmp_path, ("distill",))
    folder, _ = probe.folder("distill", "x", {"k": 1})
    (folder / "model").mkdir(parents=True)
    runner = StageRunner(tmp_path, ("distill",), force={"distill"}, inputs=[str(folder / "model")])
    with pytest.raises(ConfigError, match="--force never deletes an input"):
        runner.run("distill", "x", {"k": 1}, lambda f: {})
    assert (folder / "model").is_dir()


def test_a_system_name_cannot_climb_out_of_the_output_folder(prepared_dir: Path, tiny_model_dir: Path,
                                                            tmp_path: Path) -> None:
    root = tmp_path / "root"
    for name in ("../../../escaped", "/tmp/escaped-abs", "..", "."):
        line = _one_line_error(RUNNER.invoke(app, ["evaluate", "--prepared", str(prepared_dir), "--teacher",
                                                   str(tiny_model_dir), "--name", name, "--set",
                                                   f"output_dir={root}"]))
        assert "would write outside" in line
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped-abs").exists()
    assert not root.exists() or not any(root.rglob("*.json"))


_SLOW_PREPARE = """
import sys, time
from clir_calib.data import prepare
source, out, started = sys.argv[1:4]
real = prepare._write_all
def slow(*args, **kwargs):
    open(started, "w").close()
    time.sleep(60)
    return real(*args, **kwargs)
prepare._write_all = slow
sys.argv = ["clir-calib", "prepare", "--source", source, "--out", out, "--langs", "de", "--splits", "val"]
from clir_calib.launch import main
main()
"""


def test_sigterm_is_one_line_exit_143_and_releases_the_lock(fake_multi30k: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script, started = tmp_path / "slow.py", tmp_path / "started"
    script.write_text(_SLOW_PREPARE)
    process = subprocess.Popen([sys.executable, str(script), str(fake_multi30k), str(work / "prepared"),
                                str(started)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (work / ".prepared.lock").exists()  # held while it works
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("Error:") and "terminated" in err
    assert list(work.iterdir()) == []  # no lock file, no output, no temporary leftover


# --- 2. stored outputs are read back through one guarded reader --------------------------------------------------

def test_garbage_in_a_digest_file_is_one_line(evaluated: Path, tmp_path: Path) -> None:
    eval_dir = _copy(evaluated, tmp_path)
    (eval_dir / "translation" / "de" / "val" / "scored.npz.sha256").write_bytes(b"\xff\xfe\x00garbage\x81")
    line = _one_line_error(RUNNER.invoke(app, ["calibrate", "--eval", str(eval_dir), "--no-diagrams"]))
    assert "scored.npz" in line


@pytest.mark.parametrize("name,damage", [
    ("per_query.jsonl", lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])),
    ("views.npz", lambda p: p.write_bytes(p.read_bytes()[:100])),
    ("per_query.jsonl", lambda p: p.write_text(p.read_text().replace("0.", "1.", 1))),  # valid, not what was written
], ids=["truncated-per-query", "damaged-views", "changed-per-query"])
def test_damaged_entry_files_are_one_line_in_compare(name: str, damage, evaluated: Path, tmp_path: Path) -> None:
    first, second = _copy(evaluated, tmp_path, "a"), _copy(evaluated, tmp_path, "b")
    damage(second / "translation" / "de" / "val" / name)
    line = _one_line_error(RUNNER.invoke(app, ["evaluate", "--compare", str(first), str(second), "--out",
                                               str(tmp_path / "cmp")]))
    assert name in line and "evaluate --overwrite" in line


def test_a_truncated_metrics_file_is_one_line_in_the_report(evaluated: Path, tmp_path: Path) -> None:
    eval_dir = _copy(evaluated, tmp_path)
    metrics = eval_dir / "translation" / "fr" / "val" / "metrics.json"
    metrics.write_bytes(metrics.read_bytes()[:40])
    line = _one_line_error(RUNNER.invoke(app, ["report", str(eval_dir), "--out", str(tmp_path / "report")]))
    assert "metrics.json" in line


def test_a_damaged_stage_marker_redoes_the_stage(tmp_path: Path) -> None:
    from clir_calib.pipeline.stages import MARKER, StageRunner

    calls: list[int] = []
    first = StageRunner(tmp_path, ("evaluate",)).run("evaluate", "x", {"k": 1}, lambda f: calls.append(1) or {"n": 1})
    for damage in (b"\x00\xff not json", b"[1, 2]", b'{"info": 5}'):
        (first.folder / MARKER).write_bytes(damage)
        again = StageRunner(tmp_path, ("evaluate",)).run("evaluate", "x", {"k": 1},
                                                         lambda f: calls.append(1) or {"n": 2})
        assert not again.reused and again.info == {"n": 2}
    assert len(calls) == 4 and json.loads((first.folder / MARKER).read_text())["info"] == {"n": 2}


@pytest.mark.parametrize("damage", [
    lambda f: (f / "ids.json").write_text(json.dumps(list(reversed(json.loads((f / "ids.json").read_text()))))),
    lambda f: (f / "manifest.json").write_text("[]"),
    lambda f: (f / "manifest.json").write_text('{"key": ' * 100_000),
], ids=["reordered-ids", "manifest-list", "deep-nesting"])
def test_a_damaged_embedding_cache_entry_is_encoded_again(damage, tiny_model_dir: Path, tmp_path: Path) -> None:
    from clir_calib.models.encoder import Encoder
    from clir_calib.retrieval.index import encode_cached

    encoder = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    ids, texts = ["a", "b", "c"], ["ein hund", "eine katze", "ein mann"]
    first = encode_cached(encoder, ids, texts, "passage", tmp_path, "translation", "val", "de")
    damage(first.path)
    again = encode_cached(encoder, ids, texts, "passage", tmp_path, "translation", "val", "de")
    assert not again.reused and again.ids == ids and np.allclose(again.embeddings, first.embeddings)


def test_a_reordered_cache_is_not_reused_even_with_a_matching_hash_list(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The old hole: the hash covered the vectors, not the ids; reordered ids were reused and MAP dropped."""
    from clir_calib.atomic import SUMS, write_sums
    from clir_calib.models.encoder import Encoder
    from clir_calib.retrieval.index import encode_cached

    encoder = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    ids, texts = ["a", "b", "c"], ["ein hund", "eine katze", "ein mann"]
    first = encode_cached(encoder, ids, texts, "passage", tmp_path, "translation", "val", "de")
    (first.path / "ids.json").write_text(json.dumps(["c", "b", "a"]))
    (first.path / SUMS).unlink()
    write_sums(first.path)  # someone re-hashed the damaged folder: the ids themselves are still checked
    again = encode_cached(encoder, ids, texts, "passage", tmp_path, "translation", "val", "de")
    assert not again.reused and again.ids == ids


def test_a_deeply_nested_calibrator_file_is_one_line(tmp_path: Path) -> None:
    from clir_calib.calibrators.files import load_calibrator

    file = tmp_path / "platt.json"
    file.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(DataError, match="platt.json is damaged"):
        load_calibrator(file)


def test_every_folder_written_atomically_carries_checkable_hashes(evaluated: Path) -> None:
    """``sha256sum -c SHA256SUMS`` holds for what evaluate wrote, so a user can check a folder by hand too."""
    import hashlib

    from clir_calib.atomic import SUMS

    listed = {}
    for line in (evaluated / SUMS).read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {str(p.relative_to(evaluated)) for p in evaluated.rglob("*") if p.is_file() and p.name != SUMS}
    assert set(listed) == files
    assert all(hashlib.sha256((evaluated / n).read_bytes()).hexdigest() == d for n, d in listed.items())
