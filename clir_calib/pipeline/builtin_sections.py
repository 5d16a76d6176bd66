"""The built-in sections of the study report, registered through the same hook plugins use.

Each is one class with an ``order``; the study report renders every registered section in that order. The
modules that draw them are imported inside ``render``, so loading plugins stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl
from clir_calib.report.sections import ReportSection


class Introduction(ReportSection):
    name = "introduction"
    description = "The question, the systems, the seeds and sizes, and a banner when the evidence is thin."
    order = 0

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import study_report

        study_report.introduction(ctx)


class Answer(ReportSection):
    name = "answer"
    description = "The answer in sentences with two-level intervals, and the figure: ECE per language, raw and calibrated."
    order = 10

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import answer, seed_report

        ctx.heading("The answer: calibration per language, raw and after the seen-language calibrator")
        answer.answer_sentences(ctx)
        seed_report.answer_figure(ctx.report, ctx.systems, ctx.cfg, ctx.folder)


class Headline(ReportSection):
    name = "headline"
    description = "MAP, nDCG@10, ECE-w and smECE per language, mean ± sd over seeds, † against the reference."
    order = 20

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import seed_report

        ctx.heading("Headline")
        seed_report.headline_table(ctx.report, ctx.systems, ctx.cfg, ctx.terminal)


class Differences(ReportSection):
    name = "differences"
    description = ("Every system − the reference and every report.pairs difference, per language, raw and after the "
                   "headline calibrators, with two-level bootstrap intervals.")
    order = 30

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import differences_report

        ctx.record("differences", differences_report.differences(ctx.report, ctx.systems, ctx.cfg, ctx.terminal))


class ScoreDiagnostics(ReportSection):
    name = "score-diagnostics"
    description = ("What each method does to the scores: top-1, margin, relevant and non-relevant score quantiles, "
                   "listwise confidence against accuracy, CB-ECE, and each distribution's shift against the reference.")
    order = 40

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import diagnostics_report

        diagnostics_report.diagnostics_section(ctx)


class CalibrationByView(ReportSection):
    name = "calibration-by-view"
    description = "Each calibrator fitted on the seen language, applied unchanged, next to the raw scores of its view."
    order = 60

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import seed_report

        seed_report.calibration_by_view(ctx.report, ctx.systems, ctx.cfg, ctx.terminal)


class LabelFreeTransfer(ReportSection):
    name = "label-free-transfer"
    description = "Label-free adapters against the zero-shot calibrator, with few-shot and oracle bounds."
    order = 70

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import adaptation_report

        ctx.record("adaptation", adaptation_report.adaptation_section(ctx.report, ctx.systems, ctx.cfg, ctx.folder,
                                                                      ctx.terminal))


class Curves(ReportSection):
    name = "curves"
    description = "Data-size curves, risk-coverage curves with AURC, and ECE's sensitivity to the bin count."
    order = 80

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import curves_report

        curves_report.data_size_curves(ctx.report, ctx.systems, ctx.cfg, ctx.folder)
        curves_report.risk_coverage(ctx.report, ctx.systems, ctx.cfg, ctx.folder)
        curves_report.bin_sensitivity(ctx.report, ctx.systems, ctx.cfg)


class PerRunComparison(ReportSection):
    name = "per-run-comparison"
    description = "Per-run comparison tables with per-query intervals and paired differences (comparison.*)."
    order = 90

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import study_report

        study_report.per_run_comparison(ctx)


class ReliabilityDiagrams(ReportSection):
    name = "reliability-diagrams"
    description = "Reliability diagrams of the raw scores, one method per row and one language per column."
    order = 100

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import study_report

        study_report.reliability_grid(ctx)


class TrainingCurves(ReportSection):
    name = "training-curves"
    description = "Loss and val accuracy per run, with the step each run kept."
    order = 110

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import study_report

        study_report.training_curves(ctx)


class TransportSettings(ReportSection):
    name = "transport-settings"
    description = "For losses that transport tokens: val accuracy and test numbers per setting (tau)."
    order = 120

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import ot_report

        ot_report.tau_grid(ctx.report, ctx.methods, ctx.cfg, ctx.terminal)


class TransportPlans(ReportSection):
    name = "transport-plans"
    description = "For losses that transport tokens: one plan heatmap per setting, before and after distillation."
    order = 130

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import ot_report

        ot_report.alignments(ctx.report, ctx.methods, ctx.cfg, ctx.folder, ctx.announce)


class Provenance(ReportSection):
    name = "provenance"
    description = "The stages, package and model versions, and the resolved config."
    order = 1000

    def render(self, ctx: Any) -> None:
        from clir_calib.pipeline import study_report

        study_report.provenance(ctx)


BUILTIN_SECTIONS: tuple[type[ReportSection], ...] = (
    Introduction, Answer, Headline, Differences, ScoreDiagnostics, CalibrationByView, LabelFreeTransfer, Curves, PerRunComparison,
    ReliabilityDiagrams, TrainingCurves, TransportSettings, TransportPlans, Provenance)


@hookimpl
def register_report_sections(register: Callable[[type[Any]], None]) -> None:
    for section in BUILTIN_SECTIONS:
        register(section)
