"""`clir-calib export`: a publishable folder without checkpoints or training state, a card naming the base
model by its hub name (or saying it is local), and a push through huggingface_hub (offline and a local fake)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.distill.export import export_card, hub_name

RUNNER = CliRunner()
FAST = ["seed=3", "models.teacher.max_length=32", "models.student.max_length=32", "distill.max_pairs=24",
        "distill.batch_size=8", "distill.eval_every=2", "distill.save_every=2", "distill.val_pairs=16"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, prepared_dir: Path, tiny_model_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("export") / "run"
    args = ["--device", "cpu", "distill", "--lang", "de", "--loss", "mse", "--teacher", str(tiny_model_dir),
            "--student", str(tiny_model_dir), "--data", str(prepared_dir), "--out", str(out), "--no-progress"]
    result = RUNNER.invoke(app, args + [a for item in FAST for a in ("--set", item)])
    assert result.exit_code == 0, result.output
    assert (out / "checkpoints").is_dir()  # what the export must leave behind
    return out


def test_export_keeps_the_model_and_drops_the_training_state(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "published"
    result = RUNNER.invoke(app, ["export", str(run), str(out)])
    assert result.exit_code == 0, result.output
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "modules.json", "clir_calib_encoder.json",
            "README.md"} <= files
    assert not any(f.startswith(("checkpoints", "best")) or f.endswith(".pt") for f in files), files
    assert not {"config.yaml", "log.jsonl", "result.json"} & files
    card = (out / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---")[1])
    assert "base_model" not in header  # the student came from a local folder: no path is published
    assert "a local model" in card and str(run.parent) not in card
    from clir_calib.models import Encoder

    assert Encoder.from_pretrained(out, device="cpu").encode(["ein hund"], role="passage").shape == (1, 32)
    refused = RUNNER.invoke(app, ["export", str(run), str(run / "inside")])
    assert refused.exit_code == 2 and "inside" in refused.output and not (run / "inside").exists()


def test_the_card_names_a_hub_base_model_and_carries_the_numbers() -> None:
    assert hub_name("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"
    assert hub_name("./models/e5") is None and hub_name("/abs/path") is None
    config = {"models": {"student": {"name": "intfloat/multilingual-e5-small"}, "teacher": {"name": "intfloat/multilingual-e5-small"}},
              "distill": {"lang": "de", "losses": [{"name": "ot", "weight": 1.0}]}}
    result = {"val_pairs": 100, "val_accuracy_before": 0.5, "val_accuracy_after": 0.75, "selected_step": 40,
              "steps": 63, "select": "best"}
    metrics = {"temperature": 0.01, "entries": {"translation/fr/test_2016_flickr": {"map": 0.9123, "listwise_ece": 0.2}}}
    card = export_card(config, result, metrics)
    assert yaml.safe_load(card.split("---")[1])["base_model"] == "intfloat/multilingual-e5-small"
    assert "| translation/fr/test_2016_flickr | 0.912 | 0.200 |" in card and "0.7500 after" in card


def test_push_to_hub_offline_is_one_line_and_the_folder_stays(run: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    out = tmp_path / "published"
    result = RUNNER.invoke(app, ["export", str(run), str(out), "--push-to-hub", "me/student"])
    assert result.exit_code == 2, result.output
    assert "HF_HUB_OFFLINE" in result.output and len(result.output.strip().splitlines()) == 1
    assert (out / "model.safetensors").is_file()


def test_push_to_hub_uploads_the_exported_folder(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class RecordingApi:  # the hub client's API, answered locally
        def create_repo(self, **kwargs: Any) -> None:
            calls.append(("create_repo", kwargs))

        def upload_folder(self, **kwargs: Any) -> Any:
            uploaded = sorted(str(p.relative_to(kwargs["folder_path"])) for p in Path(kwargs["folder_path"]).rglob("*"))
            calls.append(("upload_folder", {**kwargs, "files": uploaded}))
            return type("CommitInfo", (), {"repo_url": f"https://huggingface.co/{kwargs['repo_id']}"})()

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    result = RUNNER.invoke(app, ["export", str(run), str(tmp_path / "published"), "--push-to-hub", "me/student"])
    assert result.exit_code == 0, result.output
    assert [name for name, _ in calls] == ["create_repo", "upload_folder"]
    assert calls[0][1]["private"] is True and calls[1][1]["repo_id"] == "me/student"
    assert not any("checkpoints" in f for f in calls[1][1]["files"])
    assert "pushed to https://huggingface.co/me/student" in result.output
    assert json.loads((tmp_path / "published" / "clir_calib_encoder.json").read_text())["pooling"] == "mean"
