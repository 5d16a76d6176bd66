"""`clir-calib evaluate` scores the NMT plugin's baselines like any system (fake Multi30k, tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.data.store import load_task

pytest.importorskip("clir_calib_nmt", reason="plugins/clir-calib-nmt is not installed (run ./setup.sh)")

runner = CliRunner()


def _evaluate(args: list[str], prepared: Path, teacher: Path, work: Path):
    common = [
        "--device",
        "cpu",
        "evaluate",
        "--prepared",
        str(prepared),
        "--teacher",
        str(teacher),
        "--set",
        f"evaluate.index_dir={work / 'index'}",
        "--splits",
        "test_2016_flickr",
        "--top-k",
        "10",
        "--bootstrap",
        "0",
        "--no-progress",
    ]
    return runner.invoke(app, [*common, *args])


def _metrics(out: Path, task: str, lang: str) -> dict:
    return json.loads((out / task / lang / "test_2016_flickr" / "metrics.json").read_text())


def test_oracle_row_is_the_upper_bound(prepared_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "oracle"
    result = _evaluate(
        ["--baseline", "oracle", "--langs", "de,cs", "--out", str(out)],
        prepared_dir,
        tiny_model_dir,
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["system"]["documents"]["baseline"] == "oracle"
    checked = 0
    for lang in ("de", "cs"):
        task = load_task(prepared_dir, "translation", lang, "test_2016_flickr")
        if len(set(task.queries.values())) == len(task.queries):  # identical texts: rank 1 unless duplicates
            assert _metrics(out, "translation", lang)["retrieval"]["R@1"]["value"] == pytest.approx(1.0)
            checked += 1
        assert (out / "description" / lang / "test_2016_flickr" / "metrics.json").is_file()
    assert checked, "the fake test captions should be distinct"


def test_nmt_row_translates_once_and_refuses_languages_without_a_model(
    prepared_dir, tiny_model_dir, tiny_seq2seq_dir, tmp_path
):
    model = [
        "--baseline",
        "nmt",
        "--set",
        f"evaluate.params.models={{de: {tiny_seq2seq_dir}}}",
        "--set",
        "evaluate.params.max_length=8",
        "--set",
        "evaluate.params.progress=false",
    ]
    out = tmp_path / "nmt"
    result = _evaluate([*model, "--langs", "de", "--out", str(out)], prepared_dir, tiny_model_dir, tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["system"]["documents"]["params"]["models"] == {"de": str(tiny_seq2seq_dir)}
    for task in ("translation", "description"):
        assert 0.0 <= _metrics(out, task, "de")["retrieval"]["AP"]["value"] <= 1.0
    (cache_file,) = (tmp_path / "index" / "baselines" / "nmt" / "nmt-translations").glob("*.json")
    cached = json.loads(cache_file.read_text())["translations"]
    description = load_task(prepared_dir, "description", "de", "test_2016_flickr")
    assert len(cached) == len(set(description.corpus.values()))  # captions shared by both tasks: once

    refused = _evaluate(
        [*model, "--langs", "fr", "--out", str(tmp_path / "fr")], prepared_dir, tiny_model_dir, tmp_path
    )
    assert refused.exit_code == 2
    assert "no translation model for language 'fr'" in refused.output and not (tmp_path / "fr").exists()
