"""`clir-calib nmt-train` / `nmt-translate` (plugins/clir-calib-nmt) on the fake Multi30k, tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from clir_calib import plugins
from clir_calib.baselines import CorpusContext
from clir_calib.cli import app
from clir_calib.data.store import load_bitext

pytest.importorskip("clir_calib_nmt", reason="plugins/clir-calib-nmt is not installed (run ./setup.sh)")

runner = CliRunner()


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The real console entry (ClirTyper.__call__ turns ClirCalibError into one line + exit 2)."""
    capsys.readouterr()  # drop what earlier steps printed
    with pytest.raises(SystemExit) as exited:
        app(args, prog_name="clir-calib")
    return int(exited.value.code or 0), capsys.readouterr().err


TINY = [
    "--epochs",
    "3",
    "--batch-size",
    "16",
    "--lr",
    "3e-3",
    "--decoder-layers",
    "1",
    "--decoder-hidden",
    "32",
    "--decoder-heads",
    "2",
    "--vocab-size",
    "150",
    "--max-length",
    "24",
    "--beams",
    "2",
    "--no-progress",
]


@pytest.fixture(scope="module")
def trained(prepared_dir: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nmt") / "nmt-de"
    result = runner.invoke(
        app,
        [
            "--device",
            "cpu",
            "--seed",
            "5",
            "nmt-train",
            "--lang",
            "de",
            "--data",
            str(prepared_dir),
            "--encoder",
            str(tiny_model_dir),
            "--out",
            str(out),
            *TINY,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "val BLEU" in result.output and "chrF" in result.output
    return out


def test_nmt_train_writes_a_loadable_folder_with_scores(trained, prepared_dir):
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "target_tokenizer/tokenizer.json",
        "clir_calib_nmt.json",
        "train_config.json",
        "log.jsonl",
        "result.json",
        "README.md",
    ):
        assert (trained / name).is_file(), name
    assert not list(trained.parent.glob(".nmt-de.tmp-*"))
    result = json.loads((trained / "result.json").read_text())
    n_train = len(load_bitext(prepared_dir, "de", "train"))
    assert result["train_pairs"] == n_train and result["steps"] == 3 * -(-n_train // 16)
    assert result["val"]["sentences"] == len(load_bitext(prepared_dir, "de", "val"))
    assert 0.0 <= result["val"]["bleu"] <= 100.0 and 0.0 <= result["val"]["chrf"] <= 100.0
    assert result["val"]["bleu_signature"].startswith("nrefs:1")
    log = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    val_losses = [row["val_loss"] for row in log if "val_loss" in row]
    assert len(val_losses) == 3 and val_losses[-1] < val_losses[0]  # the decoder learns
    assert log[-1]["val_bleu"] == result["val"]["bleu"]
    assert json.loads((trained / "clir_calib_nmt.json").read_text())["source_lang"] == "de"
    assert json.loads((trained / "train_config.json").read_text())["seed"] == 5


def test_trained_model_serves_the_nmt_baseline_and_only_for_its_language(
    trained, prepared_dir, tmp_path, capsys
):
    baseline = plugins.BASELINES.get("nmt")(models={"de": str(trained)}, num_beams=2, progress=False)
    context = CorpusContext("de", "test_2016_flickr", "translation", prepared_dir, tmp_path / "cache", "cpu")
    texts = ["Ein Mann läuft im Park.", "Eine Frau sitzt am Strand."]
    out = baseline.transform_corpus(["de-test_2016_flickr-0", "de-test_2016_flickr-1"], texts, context)
    assert len(out) == 2 and all(out)
    code, err = run_cli(
        [
            "nmt-translate",
            "--model",
            str(trained),
            "--lang",
            "fr",
            "--data",
            str(prepared_dir),
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-progress",
        ],
        capsys,
    )
    assert code == 2 and "translates de->en, not fr->en" in err and len(err.strip().splitlines()) == 1


def test_nmt_translate_scores_a_test_split_and_reuses_the_cache(trained, prepared_dir, tmp_path):
    args = [
        "nmt-translate",
        "--model",
        str(trained),
        "--lang",
        "de",
        "--split",
        "test_2016_flickr",
        "--data",
        str(prepared_dir),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--beams",
        "2",
        "--no-progress",
    ]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "hyp.txt")])
    assert first.exit_code == 0, first.output
    lines = (tmp_path / "hyp.txt").read_text().splitlines()
    assert len(lines) == 12 and "BLEU" in first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "; 0 translated, 12 from cache" in second.output


def test_existing_output_is_refused_without_overwrite(trained, prepared_dir, tiny_model_dir, capsys):
    code, err = run_cli(
        [
            "nmt-train",
            "--data",
            str(prepared_dir),
            "--encoder",
            str(tiny_model_dir),
            "--out",
            str(trained),
            *TINY,
        ],
        capsys,
    )
    assert code == 2 and "--overwrite" in err


def test_unknown_language_is_a_one_line_error(prepared_dir, tiny_model_dir, tmp_path, capsys):
    code, err = run_cli(
        [
            "nmt-train",
            "--lang",
            "xx",
            "--data",
            str(prepared_dir),
            "--encoder",
            str(tiny_model_dir),
            "--out",
            str(tmp_path / "m"),
            *TINY,
        ],
        capsys,
    )
    assert code == 2 and "unknown language 'xx'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_encoder_layers_keeps_the_lower_layers_in_the_saved_model(prepared_dir, tiny_model_dir, tmp_path):
    from transformers import AutoModelForSeq2SeqLM

    out = tmp_path / "one-layer"
    result = runner.invoke(
        app,
        [
            "--device",
            "cpu",
            "nmt-train",
            "--data",
            str(prepared_dir),
            "--encoder",
            str(tiny_model_dir),
            "--out",
            str(out),
            "--encoder-layers",
            "1",
            "--max-steps",
            "2",
            *TINY,
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        AutoModelForSeq2SeqLM.from_pretrained(out).config.encoder.num_hidden_layers == 1
    )  # tiny model has 2
    assert json.loads((out / "result.json").read_text())["steps"] == 2


def test_negative_encoder_layers_is_a_config_error(prepared_dir, tiny_model_dir, tmp_path, capsys):
    args = [
        "nmt-train",
        "--data",
        str(prepared_dir),
        "--encoder",
        str(tiny_model_dir),
        "--out",
        str(tmp_path / "m"),
    ]
    code, err = run_cli([*args, "--encoder-layers", "-1", *TINY], capsys)
    assert code == 2 and "encoder_layers must be at least 1" in err and not (tmp_path / "m").exists()


def test_train_encoder_layers_trains_the_top_layer_and_keeps_the_lower_one(prepared_dir, tiny_model_dir, tmp_path):
    from transformers import AutoModel, AutoModelForSeq2SeqLM

    out = tmp_path / "top-trained"
    result = runner.invoke(app, ["--device", "cpu", "nmt-train", "--data", str(prepared_dir), "--encoder",
                                 str(tiny_model_dir), "--out", str(out), "--encoder-layers", "0",
                                 "--train-encoder-layers", "1", "--encoder-lr", "1e-2", "--max-steps", "3", *TINY])
    assert result.exit_code == 0, result.output
    original = dict(AutoModel.from_pretrained(tiny_model_dir).named_parameters())
    trained = dict(AutoModelForSeq2SeqLM.from_pretrained(out).encoder.named_parameters())
    lower, top = "encoder.layer.0.attention.self.query.weight", "encoder.layer.1.attention.self.query.weight"
    assert torch.equal(trained[lower], original[lower])  # frozen (its output was cached)
    assert not torch.allclose(trained[top], original[top])  # trained
    assert json.loads((out / "train_config.json").read_text())["train_encoder_layers"] == 1
