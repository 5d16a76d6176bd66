"""The report's translate-test section: per document baseline and language, the translator it used,
whether that was zero-shot, its BLEU/chrF against the reference English, next to retrieval and
calibration numbers (raw, and after the seen-language temperature)."""

from __future__ import annotations

import json
from typing import Any

from clir_calib.config import ExperimentConfig
from clir_calib.evaluation.outputs import entry_folder
from clir_calib.pipeline.results import TARGET_BITEXT_MARK
from clir_calib.pipeline.seed_report import calibrated_values, seed_values, target_split
from clir_calib.pipeline.seed_stats import SystemRuns
from clir_calib.report import Report

HEADERS = ["system", "lang", "translator trained on", "bitext", "BLEU", "chrF", "MAP", "R@1",
           "ECE-w raw", "ECE-w temperature"]


def baseline_info(system: SystemRuns, task: str, lang: str, split: str) -> dict[str, Any]:
    """The ``baseline`` record of the first run's ``metrics.json`` for one entry (``{}`` when absent)."""
    for folder in system.folders:
        path = entry_folder(folder, task, lang, split) / "metrics.json"
        if path.is_file():
            return dict(json.loads(path.read_text(encoding="utf-8")).get("baseline") or {})
    return {}


def translate_test_table(report: Report, systems: list[SystemRuns], cfg: ExperimentConfig,
                         terminal: list[dict[str, Any]]) -> None:
    """One row per (translate-test system, language); nothing when the study has no such system."""
    task = "translation" if "translation" in cfg.evaluate.tasks else cfg.evaluate.tasks[0]
    split = target_split(cfg)
    rows = []
    for system in systems:
        for lang in cfg.evaluate.langs:
            info = baseline_info(system, task, lang, split)
            if "model" not in info:
                continue
            trained_on = str(info.get("trained_on") or "?")
            bitext = (f"zero-shot (from {trained_on})" if info.get("zero_shot") else
                      "seen language" if trained_on == cfg.distill.lang else "target-language ‡")
            temperature = calibrated_values(system, task, lang, split, "temperature", "ece_equal_width", "after")
            rows.append([system.name, lang, trained_on, bitext, _number(info.get("bleu")), _number(info.get("chrf")),
                         seed_values(system, task, lang, split, "retrieval", "AP").text(3),
                         seed_values(system, task, lang, split, "retrieval", "R@1").text(3),
                         seed_values(system, task, lang, split, "listwise", "ece_equal_width").text(3),
                         temperature.text(3)])
    if not rows:
        return
    report.heading("Translate-test: translation quality next to retrieval and calibration")
    caption = (f"{task} · {split}: BLEU and chrF (sacreBLEU, detokenised, against Multi30k's English captions) of "
               "the documents each translate-test system translated; MAP, R@1 and listwise ECE-w of the raw scores; "
               f"ECE-w after temperature scaling fitted on {cfg.calibrate.fit_lang}/{cfg.calibrate.fit_split}. "
               f"'zero-shot': a translator trained on {cfg.distill.lang} bitext only, reading the language through "
               f"its multilingual encoder;{TARGET_BITEXT_MARK} rows use the target language's own bitext, so they "
               "are not a zero-shot comparison.")
    report.table(HEADERS, rows, caption=caption)
    terminal.append({"caption": caption, "headers": HEADERS, "rows": rows})


def _number(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"
