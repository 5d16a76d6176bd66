"""The translate-test section of the study report: per translate-test system and language, the translator it
used, whether that was zero-shot, its BLEU/chrF against the reference English, next to retrieval and
calibration numbers (raw, and after the seen-language calibrator). The keys it reads (``bleu``, ``chrf``,
``trained_on``, ``zero_shot``) are this plugin's own, written into each entry's ``metrics.json`` → ``baseline``."""

from __future__ import annotations

import json
from typing import Any

from clir_calib.report.sections import ReportSection

HEADERS = ["system", "lang", "translator trained on", "bitext", "BLEU", "chrF", "MAP", "R@1", "ECE-w raw",
           "ECE-w calibrated"]


def baseline_info(folders: list[Any], task: str, lang: str, split: str) -> dict[str, Any]:
    """The ``baseline`` record of the first run's ``metrics.json`` for one entry (``{}`` when absent)."""
    for folder in folders:
        path = folder / task / lang / split / "metrics.json"
        if path.is_file():
            return dict(json.loads(path.read_text(encoding="utf-8")).get("baseline") or {})
    return {}


def _number(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"


class TranslateTestSection(ReportSection):
    """BLEU/chrF of each translate-test system next to its retrieval and calibration numbers."""

    name = "translate-test"
    description = "Translation quality (BLEU, chrF) of each translate-test system next to MAP and ECE."
    order = 40

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline.results import TARGET_BITEXT_MARK
        from clir_calib.pipeline.seed_report import calibrated_values, target_split

        cfg = ctx.cfg
        task = "translation" if "translation" in cfg.evaluate.tasks else cfg.evaluate.tasks[0]
        split = target_split(cfg)
        calibrator = cfg.report.headline_calibrators[cfg.report.headline_view]
        rows = []
        for system in ctx.systems:
            for lang in cfg.evaluate.langs:
                info = baseline_info(system.folders, task, lang, split)
                if "model" not in info:
                    continue
                trained_on = str(info.get("trained_on") or "?")
                bitext = (f"zero-shot (from {trained_on})" if info.get("zero_shot") else
                          "seen language" if trained_on == cfg.distill.lang else f"target-language{TARGET_BITEXT_MARK}")
                after = calibrated_values(system, task, lang, split, calibrator, "ece_equal_width", "after")
                rows.append([system.name, lang, trained_on, bitext, _number(info.get("bleu")), _number(info.get("chrf")),
                             ctx.values(system, task, lang, split, "retrieval", "AP").text(3),
                             ctx.values(system, task, lang, split, "retrieval", "R@1").text(3),
                             ctx.values(system, task, lang, split, cfg.report.headline_view, "ece_equal_width").text(3),
                             after.text(3)])
        if not rows:
            return
        ctx.heading("Translate-test: translation quality next to retrieval and calibration")
        ctx.table(HEADERS, rows, caption=(
            f"{task} · {split}: BLEU and chrF (sacreBLEU, detokenised, against the English references) of the "
            "documents each translate-test system translated; MAP, R@1 and ECE-w of the raw scores; ECE-w after the "
            f"{calibrator} calibrator fitted on {cfg.calibrate.fit_lang}/{cfg.calibrate.fit_split}. 'zero-shot': a "
            f"translator trained on {cfg.distill.lang} bitext only, reading the language through its multilingual "
            f"encoder;{TARGET_BITEXT_MARK} rows use the target language's own bitext, so they are not a zero-shot "
            "comparison."))
