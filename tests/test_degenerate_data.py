"""Numbers only where they mean something: bounded settings, identifiers that survive their formats, and
degenerate data (an unreadable language, one labelled query, tied candidates, out-of-range stored parameters)
refused or warned about instead of scored."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
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




# --- 3. every size and number is bounded before it is used -------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["evaluate", "--set", "evaluate.bins=1000000000000"],
    ["evaluate", "--set", "evaluate.bootstrap=100000000000"],
    ["evaluate", "--set", "evaluate.pointwise_depth=1000000000000000"],
    ["evaluate", "--set", "models.teacher.max_length=1000000000"],
    ["distill", "--set", "distill.batch_size=1000000000000"],
    ["calibrate", "--eval", ".", "--set", "calibrate.fewshot_draws=1000000000000"],
], ids=["bins", "bootstrap", "depth", "max-length", "batch", "fewshot-draws"])
def test_huge_sizes_are_refused_before_any_work(args: list[str], tmp_path: Path) -> None:
    line = _one_line_error(RUNNER.invoke(app, [*args, "--set", f"output_dir={tmp_path / 'out'}"]))
    assert "must be at most" in line
    assert not (tmp_path / "out").exists()


def test_a_seed_beyond_what_the_generators_take_is_refused_before_run_writes(tmp_path: Path) -> None:
    for seed in ("10000000000000000000000", "-1"):
        result = RUNNER.invoke(app, ["--seed", seed, "run", "configs/quick.yaml", "--set", f"output_dir={tmp_path}/o"])
        line = _one_line_error(result)
        assert "--seed" in line
    assert not (tmp_path / "o").exists()


def test_yaml_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
              f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(8)]
    config = tmp_path / "laughs.yaml"
    config.write_text("\n".join(lines) + "\n")
    assert config.stat().st_size < 1500
    started = time.perf_counter()
    line = _one_line_error(RUNNER.invoke(app, ["run", str(config)]))
    assert "aliases" in line and "line 2" in line and time.perf_counter() - started < 10
    line = _one_line_error(RUNNER.invoke(app, ["evaluate", "--set", "evaluate.langs=[&x de, *x]"]))
    assert "aliases" in line


def _bounded(param: object) -> bool:
    return getattr(param, "at_most", None) is not None or getattr(param, "below", None) is not None


def test_every_integer_setting_and_parameter_declares_an_upper_bound() -> None:
    """Memory or time depends on every integer a user sets: each declares its upper bound (the rule, not a list)."""
    from clir_calib import plugins
    from clir_calib.config import ExperimentConfig
    from clir_calib.params import field_param

    missing = []

    def walk(section: type, prefix: str) -> None:
        hints = {f.name: f.type for f in dataclasses.fields(section)}
        for field in dataclasses.fields(section):
            default = field.default_factory() if field.default_factory is not dataclasses.MISSING else None
            if dataclasses.is_dataclass(default):
                walk(type(default), f"{prefix}{field.name}.")
            elif "int" in str(hints[field.name]) and "list[str]" not in str(hints[field.name]):
                param = field_param(field)
                if param is not None and not _bounded(param):
                    missing.append(f"{prefix}{field.name}")

    walk(ExperimentConfig, "")
    for registry in (plugins.CALIBRATORS, plugins.TRANSFER_ADAPTERS, plugins.ALIGNMENT_LOSSES, plugins.BASELINES,
                     plugins.DATASETS):
        for name, component in registry.all().items():
            for param in getattr(component, "params", ()):
                if param.type is int and not _bounded(param):
                    missing.append(f"{name}.{param.name}")
    assert missing == []


# --- 4. identifiers survive the file formats they go into ------------------------------------------------------

def test_a_split_without_any_relevant_document_is_left_out_with_a_note(tmp_path: Path) -> None:
    from test_datasets import make_beir

    from clir_calib.data import prepare_data

    source = make_beir(tmp_path / "collection")
    qrels = source / "fr" / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text().replace("\t1\n", "\t0\n"))
    summary = prepare_data(tmp_path / "out", dataset="folder", source=source, langs=["de", "fr"],
                           splits=["dev", "test"])
    assert any("fr/test: left out, no qrel has a grade above 0" in note for note in summary.notes)
    assert not any(t.lang == "fr" and t.split == "test" for t in summary.tasks)
    assert any(t.lang == "fr" and t.split == "dev" for t in summary.tasks)


PRINTING_PLUGIN = textwrap.dedent("""
    print("hello from a plugin at import")
    from clir_calib import hookimpl

    @hookimpl
    def register_calibrators(register):
        print("hello from a hook")
""")
INTERRUPTING_PLUGIN = "raise KeyboardInterrupt\n"


def _plugin_cli(tmp_path: Path, name: str, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / f"safety_{name}.py").write_text(source)
    info = tmp_path / f"safety_{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: safety-{name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[clir_calib]\n{name} = safety_{name}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("CLIR_CALIB_LOAD_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "clir_calib", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_a_plugin_that_prints_cannot_break_machine_readable_output(tmp_path: Path) -> None:
    done = _plugin_cli(tmp_path, "prints", PRINTING_PLUGIN, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert "prints" in {row["name"] for row in listing["plugins"]}
    assert "hello from a plugin at import" in done.stderr and "hello from a hook" in done.stderr


def test_a_plugin_raising_keyboard_interrupt_at_import_is_one_line(tmp_path: Path) -> None:
    done = _plugin_cli(tmp_path, "interrupts", INTERRUPTING_PLUGIN, "plugins")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 130 and "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: interrupted")


def test_ctrl_c_while_starting_is_one_line() -> None:
    """SIGINT during imports and plugin loading, or a little later (in the command): one line, exit 130, either way.
    The signal is sent once the interpreter runs the console script's module (Python's own start-up before any
    clir_calib line runs cannot be handled by any program)."""
    import signal

    started = "import sys\nimport clir_calib.launch\nprint('up', flush=True)\nsys.argv = ['clir-calib', 'plugins']\n" \
              "clir_calib.launch.main()\n"
    for delay in (0.0, 0.3, 1.2):
        process = subprocess.Popen([sys.executable, "-c", started], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        assert process.stdout is not None and process.stdout.readline() == "up\n"
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:
            continue  # it finished first
        lines = [line for line in err.splitlines() if line.strip()]
        # 130, or ended by the signal itself after its one line (-2): what a shell reports as 130 either way
        assert process.returncode in (130, -signal.SIGINT) and "Traceback" not in err and len(lines) == 1, (delay, err)


@pytest.mark.parametrize("signum,code,word", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_signal_between_the_launcher_import_and_main_is_held_until_main(signum: str, code: int, word: str) -> None:
    """The window a timed signal hits only now and then, hit every time: the signal arrives after the console
    script imported the launcher and before ``main`` runs. It is held, then said in one line by ``main``."""
    script = (f"import os, signal, sys\nimport clir_calib.launch\nos.kill(os.getpid(), signal.{signum})\n"
              "sys.argv = ['clir-calib', 'plugins']\nclir_calib.launch.main()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == code and "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Error: {word} while starting")


# --- 5. degenerate data gives a warning or a refusal, not a number ---------------------------------------------

def _unreadable_model(folder: Path) -> Path:
    """A tiny BERT whose vocabulary has none of the fake data's words: every document token is [UNK]."""
    from fixtures_models import _save_random_bert
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "query", "passage", ":",
                                          "zzz"])}
    backend = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                        model_max_length=128)
    return _save_random_bert(folder, tokenizer, len(vocab), 0, 32, 1, 0, 128)


def test_a_document_encoder_that_cannot_read_the_language_is_refused(prepared_dir: Path, tiny_model_dir: Path,
                                                                      tmp_path: Path) -> None:
    model = _unreadable_model(tmp_path / "unk-model")
    line = _one_line_error(RUNNER.invoke(app, [
        "--device", "cpu", "evaluate", "--prepared", str(prepared_dir), "-m", str(model), "--teacher",
        str(tiny_model_dir), "--langs", "de", "--splits", "val", "--set", f"evaluate.index_dir={tmp_path / 'i'}",
        "--no-progress", "--out", str(tmp_path / "eval")]))
    assert "as unknown" in line and not (tmp_path / "eval").exists()


def test_unknown_token_share_warns_between_the_thresholds(tiny_model_dir: Path, caplog) -> None:
    from clir_calib.evaluation.encoding import check_coverage
    from clir_calib.models.coverage import unknown_share
    from clir_calib.models.encoder import Encoder

    encoder = Encoder.from_pretrained(tiny_model_dir, device="cpu")
    readable = ["ein hund rennt"] * 9
    assert unknown_share(encoder.tokenizer, readable) == 0.0
    check_coverage(encoder, readable, "de documents")
    assert "unknown" not in caplog.text
    mixed = readable[:3] + ["ÿÿÿ ∆∆∆ ∑∑∑"]  # 3 of 12 tokens unknown: 25%
    assert 0.05 < unknown_share(encoder.tokenizer, mixed) < 0.5
    check_coverage(encoder, mixed, "de documents")
    assert "unknown" in caplog.text


def _fit_data(queries: int, inverted: bool = False, ties: bool = False, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    scores, labels, groups = [], [], []
    for q in range(queries):
        s = np.sort(rng.uniform(0.2, 0.9, 10))[::-1]
        y = np.zeros(10)
        y[9 if inverted else 0] = 1
        scores.append(np.full(10, 0.5) if ties else s)
        labels.append(y)
        groups.append(np.full(10, q))
    return np.concatenate(scores), np.concatenate(labels), np.concatenate(groups)


def test_calibrators_refuse_too_few_labelled_queries() -> None:
    from clir_calib.plugins import CALIBRATORS

    scores, labels, groups = _fit_data(1)
    for name in ("platt", "beta", "isotonic", "histogram", "temperature"):
        with pytest.raises(DataError, match="1 labelled query"):
            CALIBRATORS.get(name)().fit(scores, labels, groups if name == "temperature" else None)
    CALIBRATORS.get("identity")().fit(scores, labels)  # fits nothing, needs nothing


def test_a_platt_fit_that_inverts_the_score_order_is_refused_on_fit_and_on_load(tmp_path: Path) -> None:
    from clir_calib.calibrators.files import load_calibrator
    from clir_calib.plugins import CALIBRATORS

    scores, labels, _ = _fit_data(20, inverted=True)
    with pytest.raises(DataError, match="slope"):
        CALIBRATORS.get("platt")().fit(scores, labels)
    good = CALIBRATORS.get("platt")().fit(*_fit_data(20)[:2])
    data = good.to_dict()
    data["state"]["slope"] = -14.0
    file = tmp_path / "platt.json"
    file.write_text(json.dumps(data))
    with pytest.raises(DataError, match="slope is -14"):
        load_calibrator(file)


def test_a_temperature_is_not_fitted_on_tied_candidates() -> None:
    from clir_calib.plugins import CALIBRATORS

    scores, labels, groups = _fit_data(20, ties=True)
    with pytest.raises(DataError, match="tie within every query"):
        CALIBRATORS.get("temperature")().fit(scores, labels, groups)


def test_out_of_range_stored_probabilities_are_refused_on_load(tmp_path: Path, prepared_dir: Path,
                                                                tiny_model_dir: Path) -> None:
    from clir_calib.calibrators.files import load_calibrator
    from clir_calib.plugins import CALIBRATORS

    fitted = CALIBRATORS.get("histogram")(bins=3).fit(*_fit_data(20)[:2])
    data = fitted.to_dict()
    data["state"]["probabilities"][0] = 5.0
    file = tmp_path / "histogram.json"
    file.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"probabilities must lie in \[0, 1\]"):
        load_calibrator(file)
    line = _one_line_error(RUNNER.invoke(app, [
        "--device", "cpu", "evaluate", "--prepared", str(prepared_dir), "--teacher", str(tiny_model_dir),
        "--calibrator", str(file), "--out", str(tmp_path / "eval")]))
    assert "histogram.json" in line and not (tmp_path / "eval").exists()
    isotonic = CALIBRATORS.get("isotonic")().fit(*_fit_data(20)[:2]).to_dict()
    isotonic["state"]["values"] = list(reversed(isotonic["state"]["values"]))
    file.write_text(json.dumps(isotonic))
    with pytest.raises(DataError, match="never fall"):
        load_calibrator(file)


@pytest.mark.parametrize("args", [
    ["evaluate", "--langs", "de,de"],
    ["prepare", "--langs", "de,fr,de"],
    ["evaluate", "--splits", "val,val"],
    ["calibrate", "--eval", ".", "--calibrators", "platt,platt"],
], ids=["evaluate-langs", "prepare-langs", "splits", "calibrators"])
def test_a_value_listed_twice_is_refused(args: list[str], tmp_path: Path) -> None:
    line = _one_line_error(RUNNER.invoke(app, [*args, "--out", str(tmp_path / "out")]))
    assert "twice" in line and not (tmp_path / "out").exists()
