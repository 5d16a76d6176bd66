"""A loss the core has never seen reaches every comparison of the report, and its plugin adds a section.

The plugin is installed through a real entry point (a ``.dist-info`` folder on ``PYTHONPATH``) and the study runs
in a subprocess, as a user's shell would; no core file knows the name ``centroid``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

PLUGIN = textwrap.dedent('''
    from clir_calib import hookimpl


    @hookimpl
    def register_alignment_losses(register):
        from clir_calib.losses import AlignmentLoss

        class CentroidLoss(AlignmentLoss):
            """Squared distance between the mean token states."""

            name = "centroid"
            description = "Squared distance between the mean token states of student(xx) and teacher(en)."

            def forward(self, student, teacher, student_source=None):
                s = student.token_states.mean(1)
                t = teacher.token_states.mean(1).detach().to(s.dtype)
                return ((s - t) ** 2).sum(-1).mean()

        register(CentroidLoss)


    @hookimpl
    def register_report_sections(register):
        from clir_calib.report.sections import ReportSection

        class CentroidNote(ReportSection):
            name = "centroid-note"
            description = "Which systems the centroid plugin saw."
            order = 35

            def render(self, ctx):
                ctx.heading("Centroid plugin section")
                ctx.table(["system", "runs"], [[s.name, str(len(s.runs))] for s in ctx.systems],
                          caption="centroid plugin: systems seen")

        register(CentroidNote)
''')


def _install(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "centroid_plugin.py").write_text(PLUGIN, encoding="utf-8")
    info = root / "centroid_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: centroid-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[clir_calib]\ncentroid = centroid_plugin\n")
    return root


def test_hook_register_report_sections(tmp_path: Path, fake_multi30k: Path, tiny_model_dir: Path) -> None:
    plugin_path = _install(tmp_path / "site")
    tiny = str(tiny_model_dir)
    config = {
        "output_dir": str(tmp_path / "study"), "seed": 3, "seeds": [3], "device": "cpu",
        "data": {"source": str(fake_multi30k), "splits": ["train", "val", "test_2016_flickr"]},
        "models": {"teacher": {"name": tiny, "max_length": 32}, "student": {"name": tiny, "max_length": 32}},
        "distill": {"max_pairs": 24, "batch_size": 8, "eval_every": 2, "save_every": 2, "val_pairs": 16, "lr": 1e-3,
                    "select": "last"},
        "methods": [{"name": "none"}, {"name": "mse", "losses": ["mse"]}, {"name": "centroid", "losses": ["centroid"]}],
        "evaluate": {"tasks": ["translation"], "bootstrap": 50, "permutations": 50},
        "calibrate": {"calibrators": ["identity", "temperature", "platt"], "adapters": [], "bounds": []},
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("CLIR_CALIB_LOAD_PLUGINS", None)
    done = subprocess.run([sys.executable, "-m", "clir_calib", "run", str(path), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    folder = next((tmp_path / "study" / "report").glob("report-*"))
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    latex = (folder / "report.tex").read_text(encoding="utf-8")
    for row in ("centroid − none", "centroid − mse", "mse − none"):
        assert f"| {row} |" in markdown, row
        assert row.replace(" − ", " $-$ ") in latex, row
    assert "mse − centroid" not in markdown  # default pairs: the later distilled method minus the earlier
    assert "## Centroid plugin section" in markdown and "centroid plugin: systems seen" in latex
    tables = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
    pairs = {(d["a"], d["b"]) for d in tables["differences"]}
    assert {("centroid", "none"), ("centroid", "mse"), ("mse", "none")} <= pairs
    interval = next(d for d in tables["differences"] if (d["a"], d["b"]) == ("centroid", "mse"))
    assert interval["low"] is not None and interval["high"] is not None and interval["low"] <= interval["high"]
    assert any(t["caption"] == "centroid plugin: systems seen" for t in tables["tables"])
    assert "Thin evidence" in markdown  # one seed: the banner says so
    # the opening sentences: per unseen language, the distilled pair, each number with its interval
    assert "**fr** (unseen), centroid − mse:" in markdown and "**cs** (unseen), centroid − mse:" in markdown
    answer = [r for r in tables["answer"] if r["lang"] == "fr"]
    assert {r["number"] for r in answer} == {"MAP", "raw listwise ECE-w", "listwise ECE-w after temperature"}
    assert all(r["low"] is not None and r["low"] <= r["value"] <= r["high"] for r in answer), answer
