"""A distill run -> a clean, publishable model folder (``clir-calib export``), optionally pushed to the hub.

A run folder is a working folder: it holds resume checkpoints with pickled optimizer state (hundreds of MB),
the training log and the resolved config with local paths. The export keeps only what loads the model
(weights, tokenizer, the sentence-transformers files, ``clir_calib_encoder.json`` and any projection) and
writes a model card that names the base model by its hub name (or says it is local) and carries the run's
measured numbers: its val accuracy and, given an evaluate folder, its retrieval and calibration results.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clir_calib.atomic import atomic_dir, write_text
from clir_calib.claims import claims_output, overlap
from clir_calib.config.runs import is_run_folder
from clir_calib.errors import ConfigError, DataError, ModelError
from clir_calib.stored import read_json

#: what a run folder holds that a published model must not: resume state, the log, the local config
LEFT_OUT = ("checkpoints", "best", "log.jsonl", "config.yaml", "result.json", "README.md")
LEFT_OUT_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt")


@dataclass
class ExportResult:
    """The exported folder, its files, and the hub repository it was pushed to (if any)."""

    folder: Path
    files: list[str]
    base_model: str | None
    pushed_to: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def hub_name(name: str) -> str | None:
    """``name`` when it reads as a hub id (``org/model``) rather than a local path; else None."""
    from clir_calib.models.resolution import looks_like_path

    if not name or looks_like_path(name) or Path(name).expanduser().exists() or "/" not in name:
        return None
    return name


def _kept(path: Path, root: Path) -> bool:
    top = path.relative_to(root).parts[0]
    return top not in LEFT_OUT and not top.startswith(".") and path.suffix not in LEFT_OUT_SUFFIXES


def _evaluated_metrics(eval_dir: Path | None) -> dict[str, Any]:
    if eval_dir is None:
        return {}
    try:
        summary = read_json(Path(eval_dir) / "summary.json", "", expect=dict)
        entries = summary["entries"]
    except (OSError, DataError, KeyError, TypeError):
        raise DataError(f"{eval_dir} is not a finished evaluate folder (no readable summary.json); pass the "
                        "--out folder of `clir-calib evaluate -m RUN`") from None
    rows = {}
    for entry in entries:
        listwise = entry.get("calibration", {}).get("listwise", {}).get("metrics", {})
        rows[f"{entry['task']}/{entry['lang']}/{entry['split']}"] = {
            "map": entry["retrieval"]["AP"]["value"],
            "listwise_ece": listwise.get("ece_equal_width", {}).get("value"),
        }
    return {"entries": rows, "temperature": (summary.get("raw_views") or {}).get("temperature")}


def export_card(config: dict[str, Any], result: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The exported model card: base model by hub name (or local), the run's numbers, how to use it."""
    models, distill = config.get("models", {}), config.get("distill", {})
    student, teacher = str(models.get("student", {}).get("name", "")), str(models.get("teacher", {}).get("name", ""))
    base = hub_name(student)
    lang = distill.get("lang", "xx")
    header = ["---", "library_name: sentence-transformers", "pipeline_tag: sentence-similarity"]
    header += [f"base_model: {base}"] if base else []
    header += ["tags: [sentence-transformers, sentence-similarity, cross-lingual-retrieval, distillation, clir-calib]",
               f"language: [en, {lang}]", "---", ""]
    origin = f"`{base}`" if base else "a local model (not on the hub; its path is not published)"
    teacher_text = f"`{hub_name(teacher)}`" if hub_name(teacher) else "a local teacher model"
    losses = ", ".join(f"{t.get('name')} (weight {t.get('weight', 1.0)})" for t in distill.get("losses", []))
    lines = [f"# {lang} student distilled from {teacher_text}", "",
             f"Initialised from {origin}; trained with `clir-calib distill` ({losses or 'no loss recorded'}) so that "
             f"its {lang} encodings match the frozen teacher's encodings of the English translations. English queries "
             "are encoded by the teacher (`query` role), documents by this model (`passage` role).", "",
             "## Measured", "",
             f"- val accuracy (en -> {lang} top-1 among {result.get('val_pairs', '?')} pairs): "
             f"{result.get('val_accuracy_before', float('nan')):.4f} before, "
             f"{result.get('val_accuracy_after', float('nan')):.4f} after (step {result.get('selected_step', '?')} "
             f"of {result.get('steps', '?')}, `select: {result.get('select', '?')}`)"]
    if metrics.get("entries"):
        lines += ["", f"Evaluated with `clir-calib evaluate` (raw listwise view at T = {metrics.get('temperature')}):", "",
                  "| task/lang/split | MAP | listwise ECE-w (raw) |", "|---|---|---|"]
        for where, values in metrics["entries"].items():
            ece = values["listwise_ece"]
            lines.append(f"| {where} | {values['map']:.3f} | {'–' if ece is None else f'{ece:.3f}'} |")
    lines += ["", "## Use", "", "```python", "from sentence_transformers import SentenceTransformer",
              'model = SentenceTransformer("THIS/REPO")', 'vectors = model.encode(["..."], prompt_name="passage")', "```", ""]
    return "\n".join(header + lines)


@claims_output("out", inputs=lambda arguments: [arguments["run"], arguments["eval_dir"]])
def export_run(run: str | Path, out: str | Path, eval_dir: str | Path | None = None, overwrite: bool = False,
               push_to_hub: str | None = None, private: bool = True) -> ExportResult:
    """Write the publishable folder ``out`` from the distill run ``run``; with ``push_to_hub``, upload it."""
    source, target = Path(run).expanduser(), Path(out).expanduser()
    if not is_run_folder(source) or not (source / "result.json").is_file():
        raise ConfigError(f"{source} is not a finished distill run (config.yaml, clir_calib_encoder.json and "
                          "result.json); pass the --out folder of `clir-calib distill`")
    if overlap(target, source) is not None:
        raise ConfigError(f"--out {target} {overlap(target, source)} the run {source}; export to a folder apart from it")
    from clir_calib.config import load_config, to_dict

    config = to_dict(load_config(source / "config.yaml"))
    result = read_json(source / "result.json", f"{source} is damaged: distill it again", expect=dict)
    metrics = _evaluated_metrics(Path(eval_dir) if eval_dir is not None else None)
    files = sorted(p for p in source.rglob("*") if p.is_file() and _kept(p, source))
    with atomic_dir(target, overwrite=overwrite) as tmp:
        for path in files:
            destination = tmp / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        write_text(tmp / "README.md", export_card(config, result, metrics))
    exported = ExportResult(target, sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()),
                            hub_name(str(config["models"]["student"]["name"])), metrics=metrics)
    if push_to_hub:
        exported.pushed_to = push_folder(target, push_to_hub, private)
    return exported


def push_folder(folder: Path, repo_id: str, private: bool = True) -> str:
    """Upload ``folder`` to the hub model repository ``repo_id`` (created when missing); its URL."""
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    except ImportError:
        raise ModelError("pushing to the hub needs huggingface_hub; pip install huggingface_hub") from None
    api = HfApi()
    try:
        api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                                 commit_message="Upload a clir-calib distilled student")
    except OfflineModeIsEnabled:
        raise ModelError(f"cannot push to {repo_id}: the hub is switched off (HF_HUB_OFFLINE); unset it and log in "
                         f"with `hf auth login`; the exported folder {folder} is complete") from None
    except (HfHubHTTPError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"cannot push to {repo_id}: {first}; the exported folder {folder} is complete, push it "
                         "again when the hub is reachable") from None
    return str(getattr(info, "repo_url", None) or f"https://huggingface.co/{repo_id}")
