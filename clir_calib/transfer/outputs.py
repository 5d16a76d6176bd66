"""Write a calibration-transfer result: fitted calibrators, JSON, Markdown + CSV tables, diagrams.

Layout of the output folder (written atomically as a whole)::

    calibrators/{task}/{name}.json       fitted calibrators (``evaluate --calibrator FILE``)
    calibration.json                     every report (with bin tables) and gap
    calibration.md / calibration.csv     the tables
    diagrams/{task}/{lang}/{split}/raw_{view}.png and {name}.png   reliability diagrams
    diagrams/{task}/transfer_gap.png     transfer gap per calibrator and unseen language
    config.yaml                          the resolved config (when given)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clir_calib.atomic import atomic_dir, write_json, write_npz, write_text
from clir_calib.claims import check_claim, claims_output
from clir_calib.config import save_config
from clir_calib.report.plots import reliability_diagram, transfer_gap_plot
from clir_calib.transfer.zero_shot import GAP_METRICS, TransferResult, TransferRow

#: what a calibration folder holds; part of ``run``'s calibrate stage key (2: CB-ECE before/after, the atc adapter's
#: second fitting step)
OUTPUTS_VERSION = 2
METRICS = ("ece_equal_width", "ece_equal_mass", "mce", "brier", "nll")
SHORT = {"ece_equal_width": "ECE-w", "ece_equal_mass": "ECE-m", "mce": "MCE", "brier": "Brier", "nll": "NLL"}


def flat_rows(result: TransferResult) -> list[dict[str, Any]]:
    """One flat record per (task, calibrator, language, split): before/after metrics and gaps."""
    records = []
    for row in result.rows:
        record: dict[str, Any] = {
            "task": row.task, "calibrator": row.calibrator, "view": row.view, "lang": row.lang,
            "split": row.split, "role": row.role, "n": row.after.n,
        }
        for metric in METRICS:  # "before" is null where the folder states no raw mapping for the view
            record[f"{metric}_before"] = getattr(row.before, metric) if row.before is not None else None
            record[f"{metric}_after"] = getattr(row.after, metric)
        for when, report in (("before", row.before), ("after", row.after)):  # null where a class is absent
            record[f"cb_ece_{when}"] = report.cb_ece if report is not None and np.isfinite(report.cb_ece) else None
        for metric in GAP_METRICS:
            record[f"gap_{metric}"] = row.gap[metric] if row.gap else None
            record[f"gap_{metric}_before"] = row.gap_before[metric] if row.gap_before else None
        records.append(record)
    return records


def to_json(result: TransferResult) -> dict[str, Any]:
    """All numbers, with bin tables, as strict JSON data."""
    return {
        "fit": {"lang": result.fit_lang, "split": result.fit_split},
        "targets": {"langs": result.target_langs, "splits": result.target_splits},
        "tasks": result.tasks,
        "bins": result.bins,
        "pointwise_depth": result.depth,
        "calibrators": {
            f"{task}/{name}": {"file": calibrator_file(task, name), **calibrator.to_dict()}
            for (task, name), calibrator in result.calibrators.items()
        },
        "rows": [
            {**record, "before": None if row.before is None else row.before.to_dict(), "after": row.after.to_dict()}
            for record, row in zip(flat_rows(result), result.rows, strict=True)
        ],
        "skipped": result.skipped,
        "warnings": result.warnings,
        "adaptation": [] if result.adaptation is None else [row.to_dict() for row in result.adaptation.rows],
        "adaptation_skipped": [] if result.adaptation is None else result.adaptation.skipped,
    }


def adapted_file(task: str, calibrator: str, adapter: str, lang: str, split: str) -> str:
    return f"adapted/{task}/{calibrator}/{adapter}-{lang}-{split}.json"


def calibrator_file(task: str, name: str) -> str:
    return f"calibrators/{task}/{name}.json"


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def markdown(result: TransferResult) -> str:
    """Per task: ECE before -> after per language and the transfer gap, then the full long table."""
    lines = [
        f"# Calibration transfer: fit on {result.fit_lang}/{result.fit_split}, applied unchanged",
        "",
        f"Bins: {result.bins}. Listwise view: top-1 confidence of a softmax over each query's candidates; "
        f"pointwise view: top-{result.depth} pairs per query. *Before* = raw scores (identity) in the same view. "
        "Transfer gap = ECE on the unseen language minus ECE on the seen one (same split), after calibration "
        "(raw scores in brackets).",
        "",
    ]
    for task in result.tasks:
        for split in result.target_splits:
            header, body = summary_table(result, task, split)
            lines += [f"## {task} / {split}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(cells) + " |" for cells in body]
            lines.append("")
    lines += ["## All numbers", "", _long_table(result.rows), ""]
    if result.warnings:
        lines += ["**Warning:** " + "; ".join(result.warnings), ""]
    if result.skipped:
        lines += ["Skipped target sets: " + "; ".join(f"{s['set']} ({s['why']})" for s in result.skipped), ""]
    return "\n".join(lines)


def summary_table(result: TransferResult, task: str, split: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows: per calibrator, ECE-w before -> after per language, and the transfer gaps."""
    by_key = {row.key(): row for row in result.rows}
    names = [name for (t, name) in result.calibrators if t == task]
    langs = [lang for lang in result.target_langs if any((task, n, lang, split) in by_key for n in names)]
    unseen = [lang for lang in langs if lang != result.fit_lang]
    header = ["calibrator", "view", *[f"ECE-w {lang} before → after" for lang in langs],
              *[f"gap {lang}" for lang in unseen]]
    body = []
    for name in names:
        cells = [name, result.calibrators[(task, name)].model_view]
        for lang in langs:
            row = by_key.get((task, name, lang, split))
            before = "no raw view" if row is None or row.before is None else f"{row.before.ece_equal_width:.4f}"
            cells.append("–" if row is None else f"{before} → {row.after.ece_equal_width:.4f}")
        for lang in unseen:
            row = by_key.get((task, name, lang, split))
            gap, raw = (row.gap, row.gap_before) if row is not None else (None, None)
            cells.append("–" if gap is None or raw is None else
                         f"{gap['ece_equal_width']:+.4f} ({raw['ece_equal_width']:+.4f})")
        body.append(cells)
    return header, body


def _long_table(rows: list[TransferRow]) -> str:
    header = ["task", "calibrator", "view", "lang", "split", "role", "n",
              *[f"{SHORT[m]} before" for m in METRICS], *[f"{SHORT[m]} after" for m in METRICS], "gap ECE-w",
              "gap ECE-m"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.task, row.calibrator, row.view, row.lang, row.split, row.role, str(row.after.n),
                 *[_fmt(getattr(row.before, m) if row.before is not None else None) for m in METRICS],
                 *[_fmt(getattr(row.after, m)) for m in METRICS],
                 *[_fmt(row.gap[m] if row.gap else None, signed=True) for m in GAP_METRICS]]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def csv_text(result: TransferResult) -> str:
    records = flat_rows(result)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]) if records else ["task"], lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
    return buffer.getvalue()


#: ECE-w after each bootstrapped calibrator on evaluate's bootstrap draws, by :func:`sample_key`
BOOTSTRAP_FILE = "bootstrap.npz"


def sample_key(task: str, calibrator: str, lang: str, split: str) -> str:
    return f"{task}__{calibrator}__{lang}__{split}"


def read_calibration(folder: Path) -> dict[str, Any]:
    """A calibration folder's ``calibration.json`` (empty when absent), read once per file version."""
    from clir_calib.stored import read_json

    path = Path(folder) / "calibration.json"
    if not path.is_file():
        return {}
    data = read_json(path, f"run `clir-calib calibrate --overwrite` into {folder} again")
    return data if isinstance(data, dict) else {}


def read_calibrated_samples(folder: Path) -> dict[str, np.ndarray]:
    """The calibrated-view bootstrap samples a calibration folder holds (empty when it holds none)."""
    path = Path(folder) / BOOTSTRAP_FILE
    if not path.is_file():
        return {}
    from clir_calib.stored import read_npz

    return read_npz(path, f"run `clir-calib calibrate --overwrite` into {folder} again")


@claims_output("out_dir", inputs=lambda arguments: arguments["inputs"])
def write_transfer(
    result: TransferResult, out_dir: str | Path, config: Any | None = None, diagrams: bool = True,
    overwrite: bool = False, inputs: Sequence[Path] = (),
) -> Path:
    """Write everything into ``out_dir`` atomically (a failure leaves no partial folder); ``inputs``: what the
    result was computed from, which ``overwrite`` must not replace (:mod:`clir_calib.claims`)."""
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        for (task, name), calibrator in result.calibrators.items():
            calibrator.save(tmp / calibrator_file(task, name))
        if result.adaptation is not None:
            for (task, name, adapter, lang, split), wrapped in result.adaptation.adapted.items():
                wrapped.save(tmp / adapted_file(task, name, adapter, lang, split))
        write_json(tmp / "calibration.json", to_json(result))
        samples = {sample_key(r.task, r.calibrator, r.lang, r.split): r.after_samples for r in result.rows
                   if r.after_samples is not None}
        if samples:
            write_npz(tmp / BOOTSTRAP_FILE, samples)
        write_text(tmp / "calibration.md", markdown(result))
        write_text(tmp / "calibration.csv", csv_text(result))
        if diagrams:
            _diagrams(result, tmp)
        if config is not None:
            save_config(config, tmp)
    return Path(out_dir)


def _diagrams(result: TransferResult, root: Path) -> None:
    drawn_raw: set[tuple[str, str, str, str]] = set()
    for row in result.rows:
        folder = root / "diagrams" / row.task / row.lang / row.split
        where = f"{row.task} {row.lang} {row.split}"
        if (row.task, row.lang, row.split, row.view) not in drawn_raw and row.before is not None:
            drawn_raw.add((row.task, row.lang, row.split, row.view))
            reliability_diagram(row.before, folder / f"raw_{row.view}.png", title=f"raw scores ({row.view}), {where}")
        reliability_diagram(row.after, folder / f"{row.calibrator}.png",
                            title=f"{row.calibrator} ({row.view}) fit on {result.fit_lang}/{result.fit_split}, {where}")
    for task in result.tasks:
        for split in result.target_splits:
            gaps: dict[str, dict[str, tuple[float, float]]] = {
                row.calibrator: {} for row in result.rows if row.task == task and row.split == split
            }
            for row in result.rows:
                if row.task == task and row.split == split and row.gap and row.gap_before:
                    gaps[row.calibrator][row.lang] = (row.gap["ece_equal_width"], row.gap_before["ece_equal_width"])
            if any(gaps.values()):
                transfer_gap_plot(gaps, root / "diagrams" / task / f"transfer_gap_{split}.png",
                                  title=f"{task} {split}: ECE-w gap vs {result.fit_lang}", metric="ECE-w")


def calibrate_into(cfg: Any, eval_dir: Path, out: Path | None = None, diagrams: bool = True,
                   overwrite: bool = False) -> tuple[Any, Path]:
    """``calibrate``: fit and transfer as ``cfg.calibrate`` says and write the folder ``out`` (default
    ``EVAL/calibration-LANG-SPLIT``); an existing folder is refused before any work unless ``overwrite``."""
    from clir_calib.claims import child
    from clir_calib.evaluation.outputs import evaluation_inputs
    from clir_calib.transfer.zero_shot import calibrate_from_config

    target = out or child(eval_dir, f"calibration-{cfg.calibrate.fit_lang}-{cfg.calibrate.fit_split}")
    inputs = evaluation_inputs(eval_dir)
    check_claim(target, inputs, overwrite)
    result = calibrate_from_config(cfg, eval_dir)
    write_transfer(result, target, config=cfg, diagrams=diagrams, overwrite=overwrite, inputs=inputs)
    return result, target
