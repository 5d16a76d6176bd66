"""The report's differences between methods: each per language, raw and after the headline calibrators.

Every system minus the reference and every ``report.pairs`` difference, each with its two-level bootstrap
interval (:mod:`clir_calib.pipeline.seed_stats`): retrieval (MAP), the raw listwise and pointwise calibration
numbers (ECE-w, smECE, CB-ECE) and ECE-w after each view's headline calibrator.
"""

from __future__ import annotations

from typing import Any

from clir_calib.config import ExperimentConfig
from clir_calib.pipeline.seed_report import (
    VIEWS,
    calibrated_difference,
    compared_pairs,
    headline_systems,
    target_split,
)
from clir_calib.pipeline.seed_stats import Difference, SystemRuns, two_level_difference
from clir_calib.report import Report

DIFFERENCE_NUMBERS = (("retrieval", "AP", "ΔMAP"), ("listwise", "ece_equal_width", "ΔECE-w list"),
                      ("listwise", "smece", "ΔsmECE list"), ("pointwise", "ece_equal_width", "ΔECE-w point"),
                      ("pointwise", "cb_ece", "ΔCB-ECE point"))


def _difference_cells(a: SystemRuns, b: SystemRuns, cfg: ExperimentConfig, task: str, lang: str,
                      split: str) -> list[tuple[str, str, str, Difference | None]]:
    """(group, metric, label, difference) of every raw number and of ECE-w after each view's headline calibrator."""
    found: list[tuple[str, str, str, Difference | None]] = [
        (group, metric, label, two_level_difference(a, b, task, lang, split, group, metric, cfg.seed))
        for group, metric, label in DIFFERENCE_NUMBERS]
    for view in VIEWS:
        calibrator = cfg.report.headline_calibrators[view]
        found.append((view, f"ece_equal_width after {calibrator}", f"ΔECE-w {view[:5]} +{calibrator}",
                      calibrated_difference(a, b, task, lang, split, calibrator, cfg.seed)))
    return found


def differences(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig,
                terminal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every system minus the reference, and every pair of ``report.pairs`` (default: every pair of distilled
    methods), per language, raw and after the headline calibrators, with intervals and tests."""
    split = target_split(cfg)
    listed = headline_systems(systems)
    shown = {s.name: s for s in listed}
    pairs = compared_pairs(listed, cfg) if listed else []
    records: list[dict[str, Any]] = []
    if not pairs:
        return records
    report.heading("Differences between methods (two-level bootstrap over seeds and queries)")
    report.paragraph(
        "Cells: difference of the means over seeds [95% interval]; † the interval excludes 0 (p < 0.05). Each "
        "bootstrap round resamples each system's seeds, then the queries (the same query draws for every system). "
        "Negative ΔECE: the first system is better calibrated. Raw numbers read the scores as evaluate does; "
        "'+calibrator' columns are after that calibrator, fitted on each system's own seen-language split."
    )
    for task in cfg.evaluate.tasks:
        for lang in cfg.evaluate.langs:
            headers: list[str] = []
            rows = []
            for a, b in pairs:
                cells = [f"{a} − {b}"]
                found = _difference_cells(shown[a], shown[b], cfg, task, lang, split)
                headers = ["difference", *[label for _, _, label, _ in found]]
                for group, metric, _, diff in found:
                    cells.append("–" if diff is None else diff.text(3))
                    if diff is not None:
                        records.append({"a": a, "b": b, "task": task, "lang": lang, "split": split, "group": group,
                                        "metric": metric, **diff.to_dict()})
                rows.append(cells)
            caption = f"{task} · {lang} · {split}: differences, mean over seeds [95% two-level bootstrap interval]"
            report.table(headers, rows, caption=caption)
            terminal.append({"caption": caption, "headers": headers, "rows": rows})
    return records
