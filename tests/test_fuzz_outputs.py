"""Fuzzing the two families of the data-loss issue: damaged stored outputs, and outputs overlapping inputs.

Same contract and budget as :mod:`test_fuzz` (its counters feed ``CLIR_CALIB_FUZZ_REPORT``): each case ends in
exit 0 or exit 2 with one ``Error:`` line, never a traceback; an input is never changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz import FUZZ, HELD, TRIED
from typer.testing import CliRunner

from clir_calib.cli import app

RUNNER = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")
JSON_OTHERS = ["null", "1", '"text"', "[]", "{}", "[[[[]]]]", '{"entries": 5}']


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path, tiny_model_dir: Path) -> Path:
    """An evaluate folder with its calibration folder and embedding cache (read-only: cases copy it)."""
    work = tmp_path_factory.mktemp("fuzz-outputs")
    done = RUNNER.invoke(app, ["--device", "cpu", "evaluate", "--prepared", str(prepared_dir), "--teacher",
                               str(tiny_model_dir), "-m", str(tiny_model_dir), "--langs", "de,fr", "--splits", "val,test_2016_flickr", "--top-k", "10",
                               "--bootstrap", "20", "--set", f"evaluate.index_dir={work / 'index'}",
                               "--set", "evaluate.diagrams=none", "--no-progress", "--out", str(work / "eval")])
    assert done.exit_code == 0, done.output
    done = RUNNER.invoke(app, ["calibrate", "--eval", str(work / "eval"), "--no-diagrams", "--calibrators",
                               "temperature,isotonic", "--adapt", "none", "--bounds", "oracle"])
    assert done.exit_code == 0, done.output
    return work


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _damage(path: Path, kind: str, data: st.DataObject) -> None:
    raw = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)), label="keep")])
    elif kind == "garble":
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="at")
        path.write_bytes(raw[:at] + data.draw(st.binary(min_size=1, max_size=64), label="garbage") + raw[at + 1:])
    else:
        path.write_text(data.draw(st.sampled_from(JSON_OTHERS), label="json"))


def _check(prop: str, args: list[str]) -> None:
    TRIED[prop] += 1
    result = RUNNER.invoke(app, args)
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 2), (args, result.exit_code, result.output[-2000:])
    if result.exit_code == 2:
        assert len([x for x in result.output.splitlines() if x.startswith("Error:")]) == 1, result.output
    HELD[prop] += 1


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["truncate", "garble", "json"]),
       reader=st.sampled_from(["calibrate", "compare", "report", "evaluate-again"]))
def test_damaged_stored_outputs_are_one_error_or_recomputed(tmp_path_factory: pytest.TempPathFactory, outputs: Path,
                                                            prepared_dir: Path, tiny_model_dir: Path,
                                                            data: st.DataObject, kind: str, reader: str) -> None:
    work = tmp_path_factory.mktemp("damaged")
    copy = Path(shutil.copytree(outputs, work / "w", symlinks=True))
    names = _files(copy)
    if kind == "json":
        names = [n for n in names if n.endswith(".json")]
    name = data.draw(st.sampled_from(names), label="file")
    _damage(copy / name, kind, data)
    eval_dir = copy / "eval"
    args = {
        "calibrate": ["calibrate", "--eval", str(eval_dir), "--no-diagrams", "--out", str(work / "cal")],
        "compare": ["evaluate", "--compare", str(eval_dir), str(outputs / "eval"), "--out", str(work / "cmp")],
        "report": ["report", str(eval_dir), "--out", str(work / "report")],
        "evaluate-again": ["--device", "cpu", "evaluate", "--prepared", str(prepared_dir), "--teacher",
                           str(tiny_model_dir), "-m", str(tiny_model_dir), "--langs", "de", "--splits", "val", "--top-k", "10", "--bootstrap",
                           "5", "--set", f"evaluate.index_dir={copy / 'index'}", "--set", "evaluate.diagrams=none",
                           "--no-progress", "--out", str(work / "again")],
    }[reader]
    _check("damaged stored outputs", args)


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for name in _files(root):
        digest.update(name.encode() + (root / name).read_bytes())
    return digest.hexdigest()


@FUZZ
@given(command=st.sampled_from(["evaluate-prepared", "evaluate-model", "prepare", "calibrate", "export"]),
       relation=st.sampled_from(["is", "inside", "contains", "symlink", "dotted"]),
       depth=st.integers(1, 2))
def test_outputs_overlapping_inputs_never_change_them(tmp_path_factory: pytest.TempPathFactory, outputs: Path,
                                                      prepared_dir: Path, tiny_model_dir: Path, fake_multi30k: Path,
                                                      command: str, relation: str, depth: int) -> None:
    work = tmp_path_factory.mktemp("overlap")
    sources = {"evaluate-prepared": prepared_dir, "evaluate-model": tiny_model_dir, "prepare": fake_multi30k,
               "calibrate": outputs / "eval", "export": tiny_model_dir}
    holder = work / "holder"
    holder.mkdir()
    the_input = Path(shutil.copytree(sources[command], holder / "input", symlinks=True))
    if command == "export":  # a finished run folder: the tiny model plus what distill writes
        (the_input / "config.yaml").write_text("seed: 13\n")
        (the_input / "result.json").write_text(json.dumps({"steps": 1}))
    before = _digest(holder)
    inputs_inside = sorted(p.name for p in the_input.iterdir() if p.is_dir() and not p.name.startswith("calibration-"))
    inner = the_input.joinpath(*inputs_inside[:1] or ["x"])  # a folder the command reads (not an earlier output)
    out = {"is": the_input, "inside": inner if depth == 1 else inner / "deeper", "contains": holder,
           "symlink": work / "link", "dotted": the_input / ".." / "input"}[relation]
    if relation == "symlink":
        out.symlink_to(the_input)
    args = {
        "evaluate-prepared": ["evaluate", "--prepared", str(the_input), "--teacher", str(tiny_model_dir)],
        "evaluate-model": ["evaluate", "--prepared", str(prepared_dir), "-m", str(the_input), "--teacher",
                           str(tiny_model_dir)],
        "prepare": ["prepare", "--source", str(the_input), "--langs", "de", "--splits", "val"],
        "calibrate": ["calibrate", "--eval", str(the_input), "--no-diagrams"],
        "export": ["export", str(the_input)],
    }[command]
    args = [*args, "--out", str(out), "--overwrite"] if command != "export" else [*args, str(out), "--overwrite"]
    _check("overlapping input and output", args)
    assert _digest(holder) == before, (command, relation)
