"""Reliability diagrams: accuracy per confidence bin against the diagonal, with the histogram below.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no display, no global state) and
written atomically, so diagrams can be made from worker threads on headless machines.
"""

from __future__ import annotations

import io
import os
import pickle
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from clir_calib.atomic import atomic_file
from clir_calib.errors import DataError
from clir_calib.metrics.calibration import CalibrationReport, calibration_report

Binning = Literal["equal_width", "equal_mass"]


def reliability_diagram(
    report: CalibrationReport | tuple[Sequence[float] | Any, Sequence[Any] | Any],
    path: str | os.PathLike[str],
    title: str = "",
    binning: Binning = "equal_width",
    bins: int = 15,
    reuse: bool = True,
) -> Path:
    """Write a reliability-diagram PNG to ``path`` and return the path.

    :param report: a :class:`CalibrationReport`, or ``(confidences, correct)`` to measure first
    :param binning: which bin table to draw the bars from; both ECEs are in the legend either way
    :param bins: number of bins when ``report`` is a pair
    :param reuse: redraw this thread's canvas (the same bytes as a new figure, in half the time)
    """
    if not isinstance(report, CalibrationReport):
        confidences, correct = report
        report = calibration_report(confidences, correct, bins=bins)
    if binning not in ("equal_width", "equal_mass"):
        raise DataError(f"binning must be 'equal_width' or 'equal_mass', got {binning!r}")
    table = report.equal_width if binning == "equal_width" else report.equal_mass
    canvas = _reused_canvas() if reuse else _DiagramCanvas()
    canvas.draw(report, table, title, binning)
    return save_png(canvas.figure, path)


class _DiagramCanvas:
    """A reliability diagram's figure and its two axes, built once and redrawn for each diagram.

    Building the figure and its axes (and their tick artists) was half of each diagram's time; everything a
    diagram changes (bars, diagonal, title, legend, the histogram's scale and limits) is replaced in
    :meth:`draw`, so a redrawn canvas gives the same PNG bytes as a new one (tested)."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(5.0, 6.0), dpi=110)
        FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.13, right=0.97, top=0.94, bottom=0.08)  # fixed margins: one draw
        grid = self.figure.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.08)
        self.top = self.figure.add_subplot(grid[0])
        self.bottom = self.figure.add_subplot(grid[1], sharex=self.top)
        self.top.set_ylabel("accuracy")
        self.top.tick_params(labelbottom=False)
        self.bottom.set_xlabel("confidence")
        self.bottom.set_ylabel("count")

    def draw(self, report: CalibrationReport, table: Any, title: str, binning: str) -> None:
        top, bottom = self.top, self.bottom
        for artist in [*top.collections, *top.lines, *bottom.collections]:
            artist.remove()
        lefts = table.lower
        widths = [u - lo for lo, u in zip(table.lower, table.upper, strict=True)]
        filled = [i for i, c in enumerate(table.count) if c > 0]
        accuracies = [float(table.accuracy[i] or 0.0) for i in filled]
        confidences = [float(table.mean_confidence[i] or 0.0) for i in filled]
        filled_lefts, filled_widths = [lefts[i] for i in filled], [widths[i] for i in filled]
        _bars(top, filled_lefts, filled_widths, [0.0] * len(filled), accuracies, facecolor="#4c72b0",
              edgecolor="#1f2d4d", linewidth=0.6, label="accuracy")
        # gap shading: hatched from the bar's top to the bin's mean confidence (drawn over the bar when
        # accuracy exceeds confidence, so both stay visible)
        _bars(top, filled_lefts, filled_widths, [min(a, c) for a, c in zip(accuracies, confidences, strict=True)],
              [abs(a - c) for a, c in zip(accuracies, confidences, strict=True)], facecolor="none",
              edgecolor="#c62828", linewidth=0.8, hatch="///", label="gap |accuracy - confidence|")
        top.plot([0, 1], [0, 1], linestyle="--", color="#444444", linewidth=1.0, label="perfect calibration")
        top.set_xlim(0.0, 1.0)
        top.set_ylim(0.0, 1.0)
        top.set_title(title or "Reliability diagram", fontsize=10, y=1.0)  # a fixed place: no layout pass
        handles, labels = top.get_legend_handles_labels()
        handles.append(Patch(visible=False))
        labels.append(
            f"ECE {report.ece_equal_width:.3f} (equal-width)\nECE {report.ece_equal_mass:.3f} (equal-mass)"
        )
        handles.append(Patch(visible=False))
        labels.append(f"n = {report.n}, {binning.replace('_', '-')} bars")
        top.legend(handles, labels, loc="upper left", fontsize=7, frameon=True)

        counts = [float(c) for c in table.count]
        log = max(counts) > 50 * max(1.0, min(c for c in counts if c > 0))
        _bars(bottom, lefts, widths, [0.0] * len(counts), counts, facecolor="#8c8c8c", edgecolor="#444444",
              linewidth=0.5)
        bottom.set_yscale("log" if log else "linear")
        bottom.set_ylim(0.5 if log else 0.0, max(counts) * (2.0 if log else 1.05))


_CANVASES = threading.local()


def _reused_canvas() -> _DiagramCanvas:
    """This thread's canvas (matplotlib figures are not thread-safe; diagrams are drawn from worker threads)."""
    canvas: _DiagramCanvas | None = getattr(_CANVASES, "canvas", None)
    if canvas is None:
        canvas = _CANVASES.canvas = _DiagramCanvas()
    return canvas


def _bars(axes: Any, lefts: Sequence[float], widths: Sequence[float], bottoms: Sequence[float],
          heights: Sequence[float], **style: Any) -> None:
    """Bars as one collection of rectangles: what ``axes.bar`` draws, without one patch artist per bin (the
    diagrams are made by the hundred, and those artists were a quarter of each one's time)."""
    corners = [[(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
               for x, w, y, h in zip(lefts, widths, bottoms, heights, strict=True)]
    axes.add_collection(PolyCollection(corners, **style), autolim=False)


def transfer_gap_plot(
    gaps: dict[str, dict[str, tuple[float, float]]],
    path: str | os.PathLike[str],
    title: str = "",
    metric: str = "ECE",
) -> Path:
    """Grouped bars: per calibrator, its transfer gap on each unseen language (raw-score gap as a tick).

    :param gaps: calibrator -> unseen language -> (gap after calibration, gap of the raw scores in
        the calibrator's view), a gap being the metric there minus the metric on the seen language
    """
    if not gaps or not any(gaps.values()):
        raise DataError("no transfer gaps to plot; the targets need the seen language and at least one other")
    names = list(gaps)
    langs = sorted({lang for by_lang in gaps.values() for lang in by_lang})
    figure = Figure(figsize=(max(4.5, 1.1 * len(names) + 1.5), 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    width = 0.8 / len(langs)
    colours = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3")
    for j, lang in enumerate(langs):
        present = [i for i, name in enumerate(names) if lang in gaps[name]]
        xs = [i - 0.4 + width * (j + 0.5) for i in present]
        axes.bar(xs, [gaps[names[i]][lang][0] for i in present], width=width, color=colours[j % len(colours)],
                 label=f"{lang}: calibrated")
        axes.scatter(xs, [gaps[names[i]][lang][1] for i in present], marker="_", s=220, linewidths=2.0,
                     color="#222222", zorder=3, label="raw scores" if j == 0 else None)
    axes.axhline(0.0, color="#333333", linewidth=0.8)
    axes.set_xticks(range(len(names)))
    axes.set_xticklabels(names, rotation=20, fontsize=8)
    axes.set_ylabel(f"{metric} gap (unseen - seen)")
    axes.set_title(title or "Calibration transfer gap", fontsize=10)
    axes.legend(fontsize=7)
    return save_png(figure, path, bbox="tight")


def save_png(figure: Figure, path: str | os.PathLike[str], bbox: str | None = None, vector: bool = False) -> Path:
    """Render ``figure`` to PNG in memory, then write it atomically; with ``vector``, an SVG twin next to it (a
    paper's figure: it scales), and the PNG at 200 dpi.

    ``bbox="tight"`` crops to the drawn content at the price of a second full draw; figures with fixed
    margins (the reliability diagrams, made by the hundred) leave it off. Within :func:`figures_rendered_together`
    the figure is recorded as it is now (pickled) and rendered when the block ends."""
    target = Path(path)
    pending: list[tuple[bytes, Path, str | None, bool]] | None = getattr(_TOGETHER, "pending", None)
    if pending is not None:
        try:
            pending.append((pickle.dumps(figure), target, bbox, vector))
            return target
        except (pickle.PicklingError, TypeError, AttributeError):  # e.g. a lambda tick formatter: drawn now
            pass
    return _render(figure, target, bbox, vector)


#: SVGs without a date and with fixed element ids: the same figure, the same bytes (a report can be diffed)
SVG_SETTINGS: dict[str, Any] = {"metadata": {"Date": None}}
SVG_SALT = "clir-calib"


def _render(figure: Figure, target: Path, bbox: str | None, vector: bool) -> Path:
    import matplotlib

    formats = [("png", target)] + ([("svg", target.with_suffix(".svg"))] if vector else [])
    for kind, where in formats:
        buffer = io.BytesIO()
        options: dict[str, Any] = {"pil_kwargs": {"compress_level": 1}} if kind == "png" else SVG_SETTINGS
        with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):  # zlib's fastest PNG; reproducible SVG
            figure.savefig(buffer, format=kind, bbox_inches=bbox, dpi=200 if vector and kind == "png" else "figure",
                           **options)
        with atomic_file(where, "wb") as handle:
            handle.write(buffer.getvalue())
    return target


def render_pickled(job: tuple[bytes, Path, str | None, bool]) -> Path:
    """Render one figure :func:`save_png` recorded (a module-level function: helper processes run it)."""
    figure, target, bbox, vector = pickle.loads(job[0]), *job[1:]
    return _render(figure, target, bbox, vector)


_TOGETHER = threading.local()


@contextmanager
def figures_rendered_together() -> Iterator[None]:
    """Record the figures :func:`save_png` is given in this block and render them when it ends, on every core
    (:func:`~clir_calib.shared_work.share_work`): a report's figures, at 200 dpi with SVG twins, take most of its
    time, and one core would draw them one after another. Nothing is rendered when the block fails."""
    from clir_calib.shared_work import share_work

    if getattr(_TOGETHER, "pending", None) is not None:  # already collecting: the outer block renders
        yield
        return
    pending: list[tuple[bytes, Path, str | None, bool]] = []
    _TOGETHER.pending = pending
    try:
        yield
    finally:
        _TOGETHER.pending = None
    share_work(render_pickled, pending)
