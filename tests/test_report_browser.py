"""The HTML report of a tiny study, rendered in headless Chromium: every image loads, every table is there.

Uses Playwright driving Debian's ``chromium`` (CI installs it; ``.ci/run``). Skipped, with the reason,
where neither Playwright nor a Chromium binary is installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clir_calib.cli import app

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory, fake_multi30k: Path, tiny_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("browser-study")
    config = {
        "name": "browser-study", "seed": 3, "device": "cpu", "output_dir": str(root / "study"),
        "data": {"source": str(fake_multi30k), "langs": ["de", "fr", "cs"], "splits": ["train", "val", "test_2016_flickr"]},
        "models": {"teacher": {"name": str(tiny_model_dir), "max_length": 32},
                   "student": {"name": str(tiny_model_dir), "max_length": 32}},
        "distill": {"lang": "de", "max_pairs": 16, "batch_size": 8, "eval_every": 1, "save_every": 2, "val_pairs": 16},
        "methods": [{"name": "none"}, {"name": "ot", "losses": [{"name": "ot", "params": {"epsilon": 0.1}}]}],
        "evaluate": {"langs": ["de", "fr", "cs"], "splits": ["val", "test_2016_flickr"], "tasks": ["translation"],
                     "top_k": 20, "bootstrap": 20, "permutations": 20, "diagrams": "equal_width"},
        "calibrate": {"calibrators": ["identity", "temperature"], "fit_lang": "de", "fit_split": "val",
                      "target_langs": ["de", "fr", "cs"], "target_splits": ["test_2016_flickr"]},
    }
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    return next((root / "study" / "report").glob("report-*/report.html"))


def _unavailable(reason: str) -> None:
    if os.environ.get("CLIR_CALIB_REQUIRE_BROWSER"):  # CI: a missing browser is a failure, not a skip
        pytest.fail(f"CLIR_CALIB_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


def test_report_renders_in_headless_chromium(tiny_report: Path, tmp_path: Path) -> None:
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    executable = _browser()
    if executable is None:
        _unavailable("no Chromium binary on PATH (Debian: apt-get install chromium)")
    markdown = (tiny_report.parent / "report.md").read_text(encoding="utf-8")
    tables_expected = sum(1 for line in markdown.splitlines() if line.startswith("|---"))
    images_expected = sum(1 for line in markdown.splitlines() if line.startswith("!["))
    screenshot = Path(os.environ.get("CLIR_CALIB_SCREENSHOT_DIR", tmp_path)) / "report.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(tiny_report.as_uri(), wait_until="load")
        images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
        tables = page.evaluate("Array.from(document.querySelectorAll('table')).map(t => t.rows.length)")
        headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert errors == []
    assert len(images) == images_expected > 5
    assert [alt for alt, complete, width in images if not (complete and width > 0)] == []  # every image decoded
    assert len(tables) == tables_expected and all(rows >= 2 for rows in tables)  # header + at least one row
    assert "Headline" in headings and "Reproducibility" in headings
    assert screenshot.stat().st_size > 10_000
