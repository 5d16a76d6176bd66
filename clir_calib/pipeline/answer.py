"""The report's opening sentences: the answer in words, with its uncertainty.

Per unseen language, each compared pair of distilled methods (``report.pairs``; with one distilled method, it
against the reference) is stated in retrieval (MAP), in raw calibration and after the seen-language calibrator
(``report.headline_view`` and its ``report.headline_calibrators``), each with its two-level bootstrap interval and
whether it is significant. Numbers come from the data; the words only say which way they point.
"""

from __future__ import annotations

from typing import Any

from clir_calib.pipeline.seed_report import (
    calibrated_difference,
    compared_pairs,
    headline_systems,
    reference_system,
    target_split,
)
from clir_calib.pipeline.seed_stats import Difference, two_level_difference


def stated(diff: Difference | None) -> str:
    if diff is None:
        return "not measured"
    from clir_calib.evaluation.compare_output import signed

    if diff.low is None or diff.high is None:
        return f"{signed(diff.value)} (no interval: no bootstrap draws)"
    rounds = max(1, diff.rounds)
    p = f"p < {1 / rounds:.3g}" if diff.p_value is not None and diff.p_value < 1 / rounds else f"p = {diff.p_value:.3f}"
    verdict = f"significant, {p}" if diff.significant else "not significant"
    return f"{signed(diff.value)} [{signed(diff.low)}, {signed(diff.high)}], {verdict}"


def answer_pairs(ctx: Any) -> list[tuple[str, str]]:
    shown = headline_systems(ctx.systems)
    if not shown:
        return []
    reference = reference_system(shown, ctx.cfg).name
    distilled = {s.name for s in shown if s.runs and s.runs[0].method.losses}
    pairs = [(a, b) for a, b in compared_pairs(shown, ctx.cfg) if a in distilled and b in distilled]
    return pairs or [(a, b) for a, b in compared_pairs(shown, ctx.cfg) if b == reference and a in distilled]


def answer_sentences(ctx: Any) -> None:
    cfg = ctx.cfg
    shown = {s.name: s for s in headline_systems(ctx.systems)}
    pairs = answer_pairs(ctx)
    if not pairs:
        return
    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    view = cfg.report.headline_view
    calibrator = cfg.report.headline_calibrators[view]
    fit = cfg.calibrate.fit_lang
    records, sentences = [], []
    for lang in [lang for lang in cfg.calibrate.target_langs if lang != fit]:
        for a, b in pairs:
            found = {
                "MAP": two_level_difference(shown[a], shown[b], task, lang, split, "retrieval", "AP", cfg.seed),
                f"raw {view} ECE-w": two_level_difference(shown[a], shown[b], task, lang, split, view,
                                                           "ece_equal_width", cfg.seed),
                f"{view} ECE-w after {calibrator}": calibrated_difference(shown[a], shown[b], task, lang, split,
                                                                          calibrator, cfg.seed),
            }
            parts = [f"{stated(d)} in {what}" for what, d in found.items()]
            sentences.append(f"**{lang}** (unseen), {a} − {b}: " + "; ".join(parts) + ".")
            records += [{"lang": lang, "a": a, "b": b, "number": what, **(d.to_dict() if d else {})}
                        for what, d in found.items()]
    ctx.paragraph(
        f"**The answer** ({task} · {split}; calibrators fitted on {fit}/{cfg.calibrate.fit_split}; differences of "
        "the means over seeds [95% two-level bootstrap interval over seeds and queries]; lower ECE is better "
        "calibrated). " + " ".join(sentences))
    ctx.record("answer", records)
