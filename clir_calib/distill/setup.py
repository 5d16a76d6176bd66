"""Everything checked and loaded before a run may create its folder (so bad input leaves nothing behind)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clir_calib.config import ExperimentConfig, check_languages, read_yaml, to_dict
from clir_calib.data.store import Bitext, load_bitext
from clir_calib.distill.trackers import check_tracker
from clir_calib.errors import ConfigError, DataError
from clir_calib.losses.combined import CombinedAlignmentLoss
from clir_calib.params import check_fields

#: Config parts that must not change between a run and its resumption.
RESUME_KEYS = ("seed", "data.prepared", "models", "distill")


def check_distill_config(cfg: ExperimentConfig) -> None:
    """One-line errors for settings that cannot work, before anything is loaded: each field against its
    declared rules, then what no single field can say."""
    dc = check_fields(cfg.distill, "distill")
    check_languages([dc.lang])
    if dc.patience is not None and dc.select != "best":
        raise ConfigError("distill.patience stops when val accuracy stops improving, which needs distill.select=best "
                          "(it keeps the best step); set select: best or drop patience")
    if isinstance(dc.max_pairs, list):
        raise ConfigError(
            f"distill.max_pairs is a list ({dc.max_pairs}); `clir-calib run` trains one run per size, "
            "`clir-calib distill` takes one number"
        )
    check_tracker(dc.log_with)


def build_objective(cfg: ExperimentConfig) -> CombinedAlignmentLoss:
    """The weighted loss sum; unknown loss names list the registered ones."""
    return CombinedAlignmentLoss(cfg.distill.losses)


@dataclass
class DistillData:
    train: Bitext
    val: Bitext


def load_distill_data(cfg: ExperimentConfig) -> DistillData:
    """Train and val bitext of ``distill.lang``; empty or blank pairs are one-line errors."""
    dc = cfg.distill
    assert not isinstance(dc.max_pairs, list)  # check_distill_config refuses lists
    train = load_bitext(cfg.data.prepared, dc.lang, "train", max_pairs=dc.max_pairs)
    val = load_bitext(cfg.data.prepared, dc.lang, "val", max_pairs=dc.val_pairs)
    for part in (train, val):
        if len(part) == 0:
            raise DataError(
                f"the {dc.lang} {part.split} bitext in {cfg.data.prepared} is empty; "
                f"run `clir-calib prepare` on a complete Multi30k copy"
            )
        for i, (en, xx) in enumerate(zip(part.en, part.xx, strict=True)):
            if not en.strip() or not xx.strip():
                raise DataError(
                    f"{part.split} pair {part.ids[i]} of the {dc.lang} bitext has an empty side; "
                    "fix the source files and run `clir-calib prepare --overwrite`"
                )
    return DistillData(train, val)


def run_state(out: Path, resume: bool) -> str:
    """``fresh`` or ``resume`` for the folder ``out``; a finished or foreign-busy folder is an error."""
    if (out / "result.json").exists():
        raise ConfigError(f"{out} already holds a finished distillation run; choose another --out or delete it")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; choose a folder for --out")
    busy = out.is_dir() and any(p for p in out.iterdir() if not p.name.startswith("."))
    if not busy:
        return "fresh"
    if not (out / "config.yaml").is_file():  # checked first: --resume cannot help a folder that is no run
        raise ConfigError(f"{out} is not empty and is not a distillation run (no config.yaml); choose an empty "
                          "or new folder for --out")
    if not resume:
        raise ConfigError(f"{out} holds an unfinished run; pass --resume to continue it or choose another --out")
    return "resume"


def check_resume_config(cfg: ExperimentConfig, out: Path) -> None:
    """The resumed run must be the same run: same seed, data, models and distillation settings."""
    saved = read_yaml(out / "config.yaml")
    current = to_dict(cfg)
    for config in (saved, current):  # a tracker may be added or dropped on resume: it does not change the run
        if isinstance(config.get("distill"), dict):
            config["distill"].pop("log_with", None)
    for key in RESUME_KEYS:
        before, now = _get(saved, key), _get(current, key)
        difference = _first_difference(before, now, key)
        if difference is not None:
            raise ConfigError(
                f"--resume with a different config: {difference} differs from {out / 'config.yaml'}; "
                "resume with the same settings or start a new --out"
            )


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _first_difference(a: Any, b: Any, where: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = _first_difference(a.get(key), b.get(key), f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if a == b else where


def default_run_folder(cfg: ExperimentConfig) -> Path:
    """``OUTPUT_DIR/distill-LANG-LOSSES``: where ``distill`` writes when no ``--out`` is given."""
    names = "+".join(spec.name for spec in cfg.distill.losses) or "none"
    return Path(cfg.output_dir) / f"distill-{cfg.distill.lang}-{names}"
