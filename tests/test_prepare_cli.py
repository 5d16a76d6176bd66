"""`clir-calib prepare` through Typer's CliRunner: flags and --set map onto the config, table printed."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.data import available_tasks, load_bitext, load_manifest

runner = CliRunner()


def test_prepare_command_writes_output_and_prints_counts(fake_multi30k: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    result = runner.invoke(
        app,
        [
            "prepare",
            "--source",
            str(fake_multi30k),
            "--out",
            str(out),
            "--langs",
            "de,fr",
            "--splits",
            "val,test_2017_flickr",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "Bitext (en, xx) pairs" in result.output and "Retrieval tasks" in result.output
    assert "│ test_2017_flickr │ fr   │ translation │      12 │        12 │    12 │" in result.output
    assert "│ val              │ de   │ description │      80 │        96 │   480 │" in result.output
    assert "description task unavailable" in result.output
    assert available_tasks(out) == [
        ("translation", "de", "val"),
        ("translation", "de", "test_2017_flickr"),
        ("translation", "fr", "val"),
        ("translation", "fr", "test_2017_flickr"),
        ("description", "de", "val"),
        ("description", "fr", "val"),
    ]
    config = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert config["data"] == {
        "dataset": "multi30k",
        "params": {},
        "source": str(fake_multi30k.resolve()),
        "url": None,
        "checksums": None,
        "prepared": str(out),
        "langs": ["de", "fr"],
        "splits": ["val", "test_2017_flickr"],
    }


def test_config_file_and_set_overrides(fake_multi30k: Path, tmp_path: Path) -> None:
    out = tmp_path / "from-config"
    config = tmp_path / "exp.yaml"
    config.write_text(
        yaml.safe_dump({"data": {"source": str(fake_multi30k), "prepared": str(out), "langs": ["cs"]}}),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["--seed", "7", "prepare", "-c", str(config), "--set", "data.splits=[train]"])
    assert result.exit_code == 0, result.output
    assert load_manifest(out)["bitext"] == {"cs": {"train": 64}}
    assert len(load_bitext(out, "cs", "train")) == 64
    saved = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert saved["seed"] == 7 and saved["data"]["splits"] == ["train"]


def test_unknown_config_key_is_refused(fake_multi30k: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["prepare", "--source", str(fake_multi30k), "--set", "data.langauges=[de]"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "data.langauges" in lines[0]
