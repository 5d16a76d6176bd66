"""The study report's OT sections: the settings grid (tau) and one alignment heatmap per setting.

When teacher and student tokenise differently, balanced OT must spread a whole word's mass over the
pieces the other side split it into; the unbalanced variant (``tau``) may leave some of it unmoved.
These sections show what each setting did: its val accuracy and test numbers, and its plan on a val pair.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from clir_calib.config import ExperimentConfig
from clir_calib.pipeline.results import MethodOutputs
from clir_calib.pipeline.seed_stats import group_runs, seed_values
from clir_calib.report import Report


def tau_grid(report: Report, methods: list[MethodOutputs], cfg: ExperimentConfig,
             terminal: list[dict[str, Any]]) -> None:
    """Val accuracy of the kept checkpoint and test numbers per OT setting; only when the study has several."""
    from clir_calib.pipeline.seed_report import calibrated_values, headline_systems, target_split

    systems = {s.name: s for s in headline_systems(group_runs(methods))}
    settings: dict[str, dict[str, Any]] = {}
    for out in methods:
        ot = ot_settings(out)
        if ot is not None and out.method.name in systems:
            settings.setdefault(out.method.name, ot)
    if len({ot["tau"] for ot in settings.values()}) < 2:
        return
    task, split = cfg.evaluate.tasks[0], target_split(cfg)
    headers = ["method", "tau", "seeds", "val acc (kept step)",
               *[f"{lang} {label}" for lang in cfg.evaluate.langs for label in ("MAP", "ECE raw", "ECE temp")]]
    rows = []
    for name, ot in settings.items():
        system = systems[name]
        kept = [float(run.distill_info["val_accuracy_after"]) for run in system.runs
                if run.distill_info.get("val_accuracy_after") is not None]  # the kept step's, from result.json
        accuracy = f"{sum(kept) / len(kept):.4f}" if kept else "–"
        cells = [name, "balanced" if ot["tau"] is None else f"{ot['tau']:g}", str(len(system.runs)), accuracy]
        for lang in cfg.evaluate.langs:
            cells.append(seed_values(system, task, lang, split, "retrieval", "AP").text(3))
            cells.append(seed_values(system, task, lang, split, "listwise", "ece_equal_width").text(3))
            cells.append(calibrated_values(system, task, lang, split, "temperature", "ece_equal_width", "after").text(3))
        rows.append(cells)
    caption = (f"{task} · {split}: OT settings. Val acc: en→{cfg.distill.lang} bitext top-1 accuracy of the kept "
               "checkpoint (mean over seeds); ECE: listwise ECE-w, raw and after the temperature fitted on "
               f"{cfg.calibrate.fit_lang}/{cfg.calibrate.fit_split}; mean ± sd over seeds")
    report.heading("OT settings: balanced and unbalanced (tau)")
    report.table(headers, rows, caption=caption)
    terminal.append({"caption": caption, "headers": headers, "rows": rows})


def ot_settings(out: MethodOutputs) -> dict[str, Any] | None:
    """The resolved parameters of a method's token-transport loss (any loss that declares
    ``transports_tokens``), or None when it has none."""
    from clir_calib import plugins

    for spec in out.method.losses:
        loss = plugins.ALIGNMENT_LOSSES.get(spec.name)
        if loss.transports_tokens:
            return dict(loss.resolve_params(spec.params))
    return None


def alignments(report: Report, methods: list[MethodOutputs], cfg: ExperimentConfig, folder: Path,
                announce: Callable[[str], None]) -> None:
    """One heatmap per OT setting (first seed of each method), drawn with that setting's own loss parameters."""
    from clir_calib.alignment import align_pair, plot_alignment
    from clir_calib.data import load_bitext
    from clir_calib.models.encoder import Encoder

    settings: dict[str, tuple[MethodOutputs, dict[str, Any]]] = {}
    for out in sorted((m for m in methods if m.model_dir is not None), key=lambda m: m.seed or 0):
        ot = ot_settings(out)
        if ot is not None and out.method.name not in settings:
            settings[out.method.name] = (out, ot)
    if not settings:
        return
    announce("report: OT alignment pictures")
    pair = load_bitext(cfg.data.prepared, cfg.distill.lang, "val", max_pairs=1)
    english, translation = pair.en[0], pair.xx[0]
    teacher = Encoder.load(cfg.models.teacher, device=cfg.device)
    first = next(iter(settings.values()))[1]
    panels: list[tuple[str, Encoder, dict[str, Any]]] = [
        ("base student", Encoder.load(cfg.models.student, device=cfg.device), {**first, "tau": None})]
    for name, (out, ot) in settings.items():
        assert out.model_dir is not None
        panels.append((name, Encoder.from_pretrained(out.model_dir, device=cfg.device), ot))
    paths, captions, rows = [], [], []
    for label, student, ot in panels:
        alignment = align_pair(teacher, student, english, translation, epsilon=ot["epsilon"], tau=ot["tau"],
                               drop_special_tokens=ot["drop_special_tokens"])
        setting = "balanced" if ot["tau"] is None else f"tau={ot['tau']:g}"
        path = folder / f"alignment_{label.replace(' ', '_').replace('+', '_')}.png"
        plot_alignment(alignment, path, title=f"{label} ({setting}): <P,C> = {alignment.transport_cost:.3f}")
        paths.append(path)
        captions.append(f"{label} · {setting}")
        rows.append([label, setting, f"{float(alignment.plan.sum()):.3f}", f"{alignment.transport_cost:.4f}",
                     f"{_mean_top_share(alignment.plan):.2f}"])
    report.heading("Where the OT loss plans mass (one val pair, one heatmap per setting)")
    report.paragraph(
        f"Row-normalised OT plans between the student's tokens of the translation (“{translation}”) and the "
        f"teacher's tokens of the English sentence (“{english}”), computed with each setting's own epsilon, tau "
        "and special-token rule, before (base student) and after distillation (first seed). Balanced OT moves all "
        "mass (total 1); unbalanced OT (tau) may leave mass untransported when a word is split into pieces on one "
        "side only. ‘top share’: mean share of a translation token's mass on its strongest English partner.")
    report.table(["setting", "marginals", "mass moved", "<P,C>", "top share"], rows)
    report.images(paths, captions, columns=min(3, len(paths)))


def _mean_top_share(plan: Any) -> float:
    import numpy as np

    totals = plan.sum(axis=1)
    shares = plan.max(axis=1) / np.maximum(totals, 1e-12)
    return float(shares[totals > 0].mean()) if bool((totals > 0).any()) else 0.0
