"""Fuzzing (hypothesis): generated configs, data files, calibrator JSON, checkpoint state and CLI arguments.

Every case must end in exit 0 with valid outputs, or exit 2 with one ``Error:`` line; never a
traceback, never a file outside the chosen folder, never a half-written output. The default budget
keeps the suite to a few minutes; ``CLIR_CALIB_FUZZ_EXAMPLES=500`` (per property) searches longer.
``CLIR_CALIB_FUZZ_REPORT=FILE`` writes the cases tried and held per property (docs/reliability.md).
"""

from __future__ import annotations

import atexit
import gzip
import json
import os
import shutil
import string
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.errors import ClirCalibError

EXAMPLES = int(os.environ.get("CLIR_CALIB_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="CLIR_CALIB_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TRIED: Counter[str] = Counter()
HELD: Counter[str] = Counter()
RUNNER = CliRunner()


def _report() -> None:
    target = os.environ.get("CLIR_CALIB_FUZZ_REPORT")
    if target:
        Path(target).write_text(json.dumps({k: {"tried": TRIED[k], "held": HELD[k]} for k in sorted(TRIED)},
                                           indent=2))


atexit.register(_report)


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _check_cli(prop: str, args: list[str], work: Path, out: Path | None) -> None:
    """Exit 0, or exit 2 with one Error line; no traceback; nothing new outside ``out``; no temp leftovers."""
    TRIED[prop] += 1
    before = _snapshot(work)
    result = RUNNER.invoke(app, args)
    text = result.output
    assert "Traceback" not in text, text
    assert result.exit_code in (0, 2), (args, result.exit_code, text[-2000:])
    if result.exit_code == 2:
        errors = [line for line in text.splitlines() if line.startswith("Error:") or "─ Error ─" in line]
        assert len(errors) == 1, text
    new = _snapshot(work) - before
    outside = [p for p in new if out is None or not (work / p).resolve().is_relative_to(out.resolve())]
    assert outside == [], (args, outside)
    leftovers = [p for p in new if ".tmp-" in p or ".old-" in p or ".save-" in p]
    assert leftovers == [], leftovers
    HELD[prop] += 1


# ------------------------------------------------------------------------ configs
SECTIONS = {
    "distill": ["lr", "epochs", "batch_size", "max_pairs", "warmup_ratio", "eval_every", "select", "lang",
                "val_pairs", "mixed_precision", "log_with", "grad_accum", "max_grad_norm"],
    "evaluate": ["top_k", "bins", "bootstrap", "temperature", "alpha", "langs", "splits", "tasks", "backend",
                 "max_images", "diagrams", "pointwise_depth"],
    "calibrate": ["fit_lang", "fit_split", "calibrators", "target_langs", "bins", "bootstrap", "adapters"],
    "data": ["langs", "splits", "prepared"],
}
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(string.printable, max_size=12), st.sampled_from(["de", "fr", "cs", "xx", "val", "train", "best", "../x"]),
    st.lists(st.sampled_from(["de", "fr", "cs", "en", "val", "test_2016_flickr", "identity", "platt", "x"]),
             max_size=4),
)
KEYS = st.one_of(
    st.sampled_from([(s, k) for s, keys in SECTIONS.items() for k in keys]),
    st.tuples(st.sampled_from(list(SECTIONS)), st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)),
)


@FUZZ
@given(st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=4))
def test_configs_are_valid_or_one_config_error(overrides: list[tuple[tuple[str, str], Any]]) -> None:
    import yaml

    from clir_calib.config import load_config
    from clir_calib.distill.setup import check_distill_config
    from clir_calib.evaluation.plan import check_evaluate_config

    TRIED["configs"] += 1
    dotted = [f"{s}.{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
              for (s, k), v in overrides]
    try:
        cfg = load_config(None, dotted)
        check_distill_config(cfg)
        check_evaluate_config(cfg.evaluate)
    except ClirCalibError as error:
        assert str(error) and "\n" not in str(error).strip()
    HELD["configs"] += 1


# ------------------------------------------------------------------------ data files
@FUZZ
@given(kind=st.sampled_from(["bytes", "lines", "truncate", "gzip-garbage", "empty", "extra-line"]),
       target=st.sampled_from(["task1/raw/val.de.gz", "task1/raw/val.en.gz", "task1/image_splits/val.txt",
                               "task1/raw/train.de.gz"]),
       payload=st.binary(max_size=200), lines=st.lists(st.text(max_size=30), max_size=20))
def test_prepare_on_damaged_files_is_complete_or_one_data_error(
    fake_multi30k: Path, tmp_path_factory: pytest.TempPathFactory, kind: str, target: str, payload: bytes,
    lines: list[str],
) -> None:
    work = tmp_path_factory.mktemp("fuzz-data")
    source = work / "source"
    shutil.copytree(fake_multi30k, source)
    path = source / target
    if kind == "bytes":
        path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    elif kind == "lines":
        text = "\n".join(lines).encode("utf-8", "surrogatepass")
        path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    elif kind == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "gzip-garbage":
        path.write_bytes(b"\x1f\x8b" + payload)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        raw += b"an extra line\n"
        path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    out = work / "prepared"
    _check_cli("data files", ["prepare", "--source", str(source), "--out", str(out), "--langs", "de",
                              "--splits", "train,val"], work, out)
    if out.exists():
        assert (out / "manifest.json").is_file()  # complete, or not there at all


# ------------------------------------------------------------------------ calibrator JSON
def _mutations() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                     st.text(max_size=5), st.lists(st.floats(allow_nan=True), max_size=4), st.just({}))


@FUZZ
@given(name=st.sampled_from(["temperature", "platt", "isotonic", "histogram", "beta"]),
       path=st.lists(st.sampled_from(["state", "params", "version", "kind", "format", "fitted_on", "temperature",
                                      "slope", "bias", "a", "thresholds", "values", "edges", "probabilities"]),
                     min_size=1, max_size=2),
       value=_mutations())
def test_calibrator_files_load_valid_or_one_data_error(tmp_path_factory: pytest.TempPathFactory, name: str,
                                                      path: list[str], value: Any) -> None:
    from clir_calib.calibrators.files import load_calibrator
    from clir_calib.plugins import CALIBRATORS

    TRIED["calibrator JSON"] += 1
    rng = np.random.default_rng(0)
    scores = np.tanh(rng.normal(size=200))  # cosine-like, as the beta calibrator expects
    labels = (rng.random(200) < 1 / (1 + np.exp(-2 * scores))).astype(np.int64)
    groups = np.repeat(np.arange(20), 10)
    calibrator = CALIBRATORS.get(name)().fit(scores, labels, groups, fitted_on={})
    data = calibrator.to_dict()
    node: Any = data
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else {}
    if isinstance(node, dict):
        node[path[-1]] = value
    file = tmp_path_factory.mktemp("fuzz-cal") / "calibrator.json"
    file.write_text(json.dumps(data), encoding="utf-8")  # NaN/Infinity are written as JSON extensions
    try:
        loaded = load_calibrator(file)
    except ClirCalibError as error:
        assert "\n" not in str(error).strip()
    else:
        probabilities = loaded.predict_proba(scores, groups)
        assert np.isfinite(probabilities).all() and ((probabilities >= 0) & (probabilities <= 1)).all()
    HELD["calibrator JSON"] += 1


# ------------------------------------------------------------------------ checkpoint state
@FUZZ
@given(member=st.sampled_from(["trainable.safetensors", "training_state.pt", "position.json"]),
       action=st.sampled_from(["truncate", "garbage", "delete", "json"]), payload=st.binary(max_size=64),
       number=st.integers(-5, 10**6))
def test_resume_from_damaged_checkpoints_is_a_run_or_one_error(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory, member: str, action: str,
    payload: bytes, number: int, damaged_run: Path,
) -> None:
    work = tmp_path_factory.mktemp("fuzz-ckpt")
    run = work / "run"
    shutil.copytree(damaged_run, run)
    checkpoint = sorted((run / "checkpoints").iterdir())[-1]
    target = checkpoint / member
    if action == "truncate" and target.is_file():
        target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])
    elif action == "garbage":
        target.write_bytes(payload)
    elif action == "delete":
        target.unlink(missing_ok=True)
    else:
        target.write_text(json.dumps({"step": number, "epoch": number % 7, "micro_batch": number}))
    _check_cli("checkpoint state", ["--device", "cpu", "distill", "--teacher", str(tiny_model_dir), "--student",
                                    str(tiny_model_dir), "--data", str(prepared_dir), "--out", str(run), "--resume",
                                    "--no-progress", *SMALL_RUN], work, run)


SMALL_RUN = ["--set", "distill.max_pairs=16", "--set", "distill.batch_size=8", "--set", "distill.epochs=2",
             "--set", "distill.save_every=1", "--set", "distill.eval_every=10", "--set", "distill.val_pairs=8"]


@pytest.fixture(scope="module")
def damaged_run(prepared_dir: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interrupted run: stopped after step 2 of 4 (checkpoints kept, no result.json)."""
    run = tmp_path_factory.mktemp("fuzz-base") / "run"
    result = RUNNER.invoke(app, ["--device", "cpu", "distill", "--teacher", str(tiny_model_dir), "--student",
                                 str(tiny_model_dir), "--data", str(prepared_dir), "--out", str(run),
                                 "--no-progress", *SMALL_RUN])
    assert result.exit_code == 0, result.output
    (run / "result.json").unlink()
    for late in sorted((run / "checkpoints").iterdir())[1:]:
        shutil.rmtree(late)
    return run


# ------------------------------------------------------------------------ CLI arguments
WORDS = st.sampled_from(["prepare", "distill", "evaluate", "calibrate", "index", "plugins", "models",
                         "--out", "-o", "--langs", "de,fr", "xx", "--splits", "train", "--set", "distill.lr=-1",
                         "evaluate.bins=0", "--config", "nope.yaml", "--eval", "--fit-lang", "cs", "--fit-split",
                         "--epsilon", "0", "nan", "--loss", "ot+0.5*mse", "ot*", "--max-pairs", "-3", "--help",
                         "--resume", "--url", "http://example.org", "ftp://x", "--teacher", "--student", "--json",
                         "--compare", "--top-k", "0", "--source", "--device", "cuda", "--seeds", "1,x"])


@FUZZ
@given(st.lists(WORDS, min_size=1, max_size=7))
def test_cli_argument_lists_exit_cleanly(tmp_path_factory: pytest.TempPathFactory, fake_multi30k: Path,
                                        words: list[str]) -> None:
    work = tmp_path_factory.mktemp("fuzz-cli")
    out = work / "out"
    args = [str(out) if w in ("nope.yaml",) else w for w in words]
    # values that would name paths point into the work folder, so nothing can land elsewhere
    args = [str(work / a) if a in ("de,fr", "xx", "cs") and i > 0 and args[i - 1] in ("--out", "-o", "--eval",
                                                                                       "--source") else a
            for i, a in enumerate(args)]
    if args[0] in ("prepare", "distill", "evaluate", "calibrate", "index"):  # commands with --out/--set
        if "--out" not in args and "-o" not in args:
            args += ["--out", str(out)]
        args += ["--set", f"output_dir={work / 'runs'}", "--set", f"data.prepared={work / 'prepared'}"]
    assume(args)  # no arguments at all: the help, by design
    cwd = Path.cwd()
    os.chdir(work)
    try:
        with pytest.MonkeyPatch.context() as patch:  # the default data is the small fake one; no hub lookups
            patch.setenv("CLIR_CALIB_MULTI30K", str(fake_multi30k))
            patch.setenv("HF_HUB_OFFLINE", "1")
            _check_cli("CLI arguments", args, work, work)
    finally:
        os.chdir(cwd)
