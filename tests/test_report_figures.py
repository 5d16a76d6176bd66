"""A report's figures are recorded as they are saved and drawn together at the end, on every core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from clir_calib import shared_work
from clir_calib.report.plots import figures_rendered_together, save_png


def _figure(title: str) -> Figure:
    figure = Figure(figsize=(4, 3), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot([0, 1, 2], [0, 1, 4], label="a curve")
    axes.set_title(title)
    axes.legend()
    return figure


@pytest.fixture()
def two_cores() -> Iterator[None]:
    shared_work.set_core_budget(2)
    yield
    shared_work.set_core_budget(None)
    shared_work.stop_helpers()


def test_figures_drawn_together_are_the_figures_drawn_at_once(two_cores: None, tmp_path: Path) -> None:
    for name in ("one", "two", "three"):
        save_png(_figure(name), tmp_path / f"now-{name}.png", bbox="tight", vector=True)
    with figures_rendered_together():
        for name in ("one", "two", "three"):
            changed = _figure(name)
            save_png(changed, tmp_path / f"later-{name}.png", bbox="tight", vector=True)
            changed.axes[0].set_title("changed after saving")  # the saved figure is the one drawn
        assert not list(tmp_path.glob("later-*"))  # nothing is drawn before the block ends
    for name in ("one", "two", "three"):
        assert (tmp_path / f"later-{name}.png").read_bytes() == (tmp_path / f"now-{name}.png").read_bytes()
        assert (tmp_path / f"later-{name}.svg").read_bytes() == (tmp_path / f"now-{name}.svg").read_bytes()


def test_a_failed_block_draws_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="a section failed"), figures_rendered_together():
        save_png(_figure("x"), tmp_path / "x.png")
        raise RuntimeError("a section failed")
    assert not (tmp_path / "x.png").exists()


def test_a_figure_that_cannot_be_recorded_is_drawn_at_once(tmp_path: Path) -> None:
    figure = _figure("lambda ticks")
    figure.axes[0].yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.1f}"))
    with figures_rendered_together():
        save_png(figure, tmp_path / "lambda.png")
        assert (tmp_path / "lambda.png").is_file()
