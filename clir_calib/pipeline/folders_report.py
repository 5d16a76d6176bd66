"""``clir-calib report``: the study report from folders that ``evaluate`` and ``calibrate`` wrote, and two reports
side by side.

Each evaluate folder is one run of one system: its ``summary.json`` names the system, and when its documents
came from a distill run, that run's ``config.yaml`` gives the method's losses, seed and data size, so distilled
methods are told from undistilled ones and seeds of one method are grouped, as in a study. The calibration folder
of an evaluate folder is the one given, or the one ``calibrate`` wrote inside it. The report is the same library
function ``run`` calls, into ``OUT/report-<hash>``, with ``OUT/latest`` pointing at the newest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clir_calib.config import ExperimentConfig, LossSpec, MethodConfig, config_hash, load_config
from clir_calib.config.runs import is_run_folder
from clir_calib.errors import ConfigError, DataError
from clir_calib.pipeline.results import MethodOutputs
from clir_calib.stored import read_json

LATEST = "latest"


@dataclass
class ReportResult:
    folder: Path
    latest: Path
    report_md: Path
    report_html: Path


def _read(path: Path, what: str) -> dict[str, Any]:
    """A stored JSON object (through the one cached reader); damage or absence is one line naming ``what``."""
    data = read_json(path, what)
    if not isinstance(data, dict):
        raise DataError(f"{path} does not hold a JSON object: {what}")
    return data


def calibration_folder(eval_dir: Path) -> Path | None:
    """The folder ``calibrate`` wrote into ``eval_dir`` (``calibration-LANG-SPLIT``), when there is exactly one."""
    found = sorted(p.parent for p in eval_dir.glob("calibration*/calibration.json"))
    if len(found) > 1:
        raise ConfigError(f"{eval_dir} holds {len(found)} calibration folders ({', '.join(p.name for p in found)}); "
                          "name the one to report with --calibration")
    return found[0] if found else None


def run_outputs(eval_dir: Path, calibration: Path | None) -> MethodOutputs:
    """One evaluated run as a study's :class:`MethodOutputs`: its method (losses from the distill run, if any)."""
    summary = _read(eval_dir / "summary.json", "pass folders written by `clir-calib evaluate --out`")
    system = summary.get("system") or {}
    name = str(system.get("name") or eval_dir.name)
    documents = system.get("documents") or {}
    run = Path(str(documents.get("encoder", "")))
    if documents.get("baseline"):
        method = MethodConfig(name, baseline=str(documents["baseline"]))
        return MethodOutputs(method, label=name, eval_dir=eval_dir, calibration_dir=calibration)
    if not is_run_folder(run):
        return MethodOutputs(MethodConfig(name), label=name, eval_dir=eval_dir, calibration_dir=calibration)
    config = load_config(run / "config.yaml")
    losses = [LossSpec(spec.name, spec.weight, dict(spec.params)) for spec in config.distill.losses]
    pairs = config.distill.max_pairs if isinstance(config.distill.max_pairs, int) else None
    result = _read(run / "result.json", "the distill run is not finished") if (run / "result.json").is_file() else {}
    return MethodOutputs(MethodConfig(name, losses=losses), seed=config.seed, pairs=pairs,
                         label=f"{name}-s{config.seed}", model_dir=run, eval_dir=eval_dir,
                         calibration_dir=calibration, distill_info=result)


def folders_config(outputs: list[MethodOutputs], overrides: list[str] | None = None,
                   path: str | os.PathLike[str] | None = None) -> ExperimentConfig:
    """The config the evaluations ran with (the first folder's ``config.yaml``; calibrate from the first
    calibration folder's), with the methods and seeds the folders hold, then ``path`` and ``overrides``."""
    first = outputs[0]
    assert first.eval_dir is not None
    cfg = load_config(first.eval_dir / "config.yaml")
    calibrated = next((o.calibration_dir for o in outputs if o.calibration_dir is not None), None)
    if calibrated is not None and (calibrated / "config.yaml").is_file():
        cfg.calibrate = load_config(calibrated / "config.yaml").calibrate
        facts = _read(calibrated / "calibration.json", "pass folders written by `clir-calib calibrate`")
        cfg.calibrate.target_langs = list(facts.get("targets", {}).get("langs") or cfg.calibrate.target_langs)
        cfg.calibrate.target_splits = list(facts.get("targets", {}).get("splits") or cfg.calibrate.target_splits)
    if path is not None or overrides:
        chosen = load_config(path, overrides)
        cfg.report, cfg.name = chosen.report, chosen.name
    from clir_calib.pipeline.figures import languages

    cfg.evaluate.langs = languages(cfg, cfg.evaluate.langs)
    cfg.calibrate.target_langs = languages(cfg, cfg.calibrate.target_langs)
    cfg.methods = list({o.method.name: o.method for o in outputs}.values())
    cfg.seeds = sorted({o.seed for o in outputs if o.seed is not None})
    cfg.evaluate.documents = cfg.evaluate.baseline = None
    cfg.evaluate.system = ""
    return cfg


def point_latest(root: Path, folder: Path) -> Path:
    """``root/latest`` -> ``folder`` (a relative symlink, replaced atomically)."""
    link = root / LATEST
    temporary = root / f".{LATEST}.{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(folder.name)
    os.replace(temporary, link)
    return link


def report_from_folders(eval_dirs: list[Path], out: Path, calibrations: list[Path] | None = None,
                        overrides: list[str] | None = None, config: str | os.PathLike[str] | None = None,
                        announce: Callable[[str], None] | None = None) -> ReportResult:
    """Write the study report of the evaluate (and calibrate) folders ``eval_dirs`` into ``out/report-<hash>``."""
    from clir_calib.atomic import atomic_dir
    from clir_calib.claims import claimed_output
    from clir_calib.pipeline.study_report import write_study_report

    if not eval_dirs:
        raise ConfigError("give at least one evaluate folder: clir-calib report EVAL_DIR... --out REPORT_DIR")
    if calibrations and len(calibrations) != len(eval_dirs):
        raise ConfigError(f"{len(calibrations)} --calibration folders for {len(eval_dirs)} evaluate folders; give one "
                          "per evaluate folder, in the same order, or none (each evaluate folder's own is used)")
    folders = [Path(p) for p in eval_dirs]
    found = [Path(c) for c in calibrations] if calibrations else [calibration_folder(f) for f in folders]
    outputs = [run_outputs(f, c) for f, c in zip(folders, found, strict=True)]
    cfg = folders_config(outputs, overrides, config)
    key = config_hash({"folders": [str(f.resolve()) for f in folders],
                       "calibrations": [str(c.resolve()) if c else None for c in found], "report": cfg.report})
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"report-{key}"
    with claimed_output(target, [*folders, *(c for c in found if c)], replace=True), \
            atomic_dir(target, overwrite=True) as tmp:
        write_study_report(cfg, outputs, tmp, [], announce or (lambda text: None))
    latest = point_latest(root, target)
    return ReportResult(target, latest, target / "report.md", target / "report.html")


def _means(tables: dict[str, Any]) -> dict[tuple[Any, ...], float]:
    groups: dict[tuple[Any, ...], list[float]] = {}
    for r in tables.get("per_seed", []):
        key = (r["system"], r["task"], r["lang"], r["split"], r["group"], r["metric"])
        groups.setdefault(key, []).append(float(r["value"]))
    return {key: sum(values) / len(values) for key, values in groups.items()}


def compare_reports(first: Path, second: Path, out: Path) -> Path:
    """Two report folders side by side: every per-seed mean both hold, and second − first (``comparison.md``,
    ``comparison.json``); a folder given as a report root means its ``latest``."""
    from clir_calib.atomic import write_json, write_text

    folders = [Path(p) / LATEST if (Path(p) / LATEST).exists() else Path(p) for p in (first, second)]
    a, b = (_means(_read(f / "tables.json", "pass report folders (or their parents with `latest`)")) for f in folders)
    shared = [key for key in a if key in b]
    if not shared:
        raise DataError(f"{folders[0]} and {folders[1]} share no system and entry; compare reports of the same systems")
    headers = ["system", "task", "lang", "split", "group", "metric", "A", "B", "B − A"]
    rows = [[*map(str, key), f"{a[key]:.4f}", f"{b[key]:.4f}", f"{b[key] - a[key]:+.4f}"] for key in shared]
    lines = ["# Report comparison", "", f"A: `{folders[0]}`  ", f"B: `{folders[1]}`", "",
             "Per-seed means of every number both reports hold (`tables.json` → `per_seed`).", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers), *("| " + " | ".join(r) + " |" for r in rows)]
    Path(out).mkdir(parents=True, exist_ok=True)
    write_text(Path(out) / "comparison.md", "\n".join(lines) + "\n")
    write_json(Path(out) / "comparison.json", {"a": str(folders[0]), "b": str(folders[1]), "headers": headers,
                                               "rows": rows})
    return Path(out) / "comparison.md"
