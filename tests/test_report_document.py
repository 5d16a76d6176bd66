from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from clir_calib.report import Report


def _png(path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def test_markdown_and_html_carry_the_same_content(tmp_path):
    report = Report("Study")
    report.heading("Retrieval")
    report.paragraph("Best per column in **bold**; `none` is the base model.")
    report.table(["system", "MAP"], [["none", "0.51"], ["ot", "**0.62**"]], caption="test_2016")
    (tmp_path / "figs").mkdir()
    image = _png(tmp_path / "figs" / "plot.png")
    report.images([image, tmp_path / "absent.png"], ["plot", "absent"])
    report.code("seed: 13")
    md_path, html_path = report.write(tmp_path)
    md = md_path.read_text(encoding="utf-8")
    page = html_path.read_text(encoding="utf-8")
    assert "| ot | **0.62** |" in md and "![plot](figs/plot.png)" in md and "seed: 13" in md
    assert "<strong>0.62</strong>" in page and "<code>none</code>" in page
    assert "data:image/png;base64," in page  # embedded: the HTML stands alone
    assert "missing: absent.png" in page
    assert "figs/plot.png" not in page


def test_cells_are_escaped():
    report = Report("x")
    report.table(["a|b"], [["<script>"]])
    assert "&lt;script&gt;" in report.to_html()
    assert "a\\|b" in report.to_markdown(Path("."))
