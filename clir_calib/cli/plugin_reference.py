"""``docs/plugins.md``: one section per hook, generated from the hookspecs' docstrings and each component's
``describe()``, with one example per hook (the shipped cosine plugin for losses). A test keeps the file current.

Run: ``python -m clir_calib.cli.plugin_reference > docs/plugins.md``.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import Any

from clir_calib import hookspecs, plugins

#: each hook's registry (register_commands has none)
REGISTRIES: dict[str, Any] = {
    "register_alignment_losses": plugins.ALIGNMENT_LOSSES, "register_calibrators": plugins.CALIBRATORS,
    "register_transfer_adapters": plugins.TRANSFER_ADAPTERS, "register_model_providers": plugins.MODEL_PROVIDERS,
    "register_baselines": plugins.BASELINES, "register_datasets": plugins.DATASETS,
    "register_report_sections": plugins.REPORT_SECTIONS, "register_executors": plugins.EXECUTORS,
}
#: the packages whose components are documented (clir-calib and the plugins shipped in plugins/)
SHIPPED = ("clir_calib", "clir_calib_nmt", "clir_calib_cosine")
COSINE = Path(__file__).resolve().parents[2] / "plugins" / "clir-calib-cosine" / "clir_calib_cosine"

EXAMPLES = {
    "register_calibrators": '''
        from clir_calib import hookimpl
        from clir_calib.calibrators.logistic import PlattCalibrator

        class ShiftedPlatt(PlattCalibrator):
            """Platt scaling fitted on scores shifted by their median."""
            name = "shifted-platt"
            description = "Platt scaling on median-centred scores."

        @hookimpl
        def register_calibrators(register):
            register(ShiftedPlatt)''',
    "register_transfer_adapters": '''
        from clir_calib import hookimpl

        @hookimpl
        def register_transfer_adapters(register):
            from my_package.adapters import RankAdapter  # a TransferAdapter subclass: sees target scores only
            register(RankAdapter)''',
    "register_model_providers": '''
        from pathlib import Path
        from clir_calib import hookimpl

        class MyProvider:
            name = "my-provider"
            description = "my-org/encoder from the my-encoder-weights package"
            model_names = ("my-org/encoder",)

            def materialize(self, model_name: str, cache_dir: Path) -> Path:
                import my_encoder_weights
                return Path(my_encoder_weights.folder())

        @hookimpl
        def register_model_providers(register):
            register(MyProvider())''',
    "register_baselines": '''
        from clir_calib import hookimpl
        from clir_calib.baselines import DocumentBaseline

        class Lowercase(DocumentBaseline):
            name = "lowercase"
            description = "Documents lower-cased before the teacher encodes them."

            def transform_corpus(self, doc_ids, texts, context):
                return [text.lower() for text in texts]

        @hookimpl
        def register_baselines(register):
            register(Lowercase)''',
    "register_datasets": '''
        from clir_calib import hookimpl

        @hookimpl
        def register_datasets(register):
            from my_package.dataset import MyCollection  # a Dataset subclass: build(request) -> DatasetContent
            register(MyCollection)''',
    "register_report_sections": '''
        from clir_calib import hookimpl
        from clir_calib.report.sections import ReportSection

        class SeedCount(ReportSection):
            name = "seed-count"
            description = "How many runs each system has."
            order = 25  # after the headline (20), before the differences (30)

            def render(self, ctx):
                ctx.table(["system", "runs"], [[s.name, str(len(s.runs))] for s in ctx.systems],
                          caption="runs per system")

        @hookimpl
        def register_report_sections(register):
            register(SeedCount)''',
    "register_executors": '''
        import logging
        import time

        from clir_calib import hookimpl
        from clir_calib.pipeline.executors import StudyExecutor

        class Timed(StudyExecutor):
            """The local order, with each stage's wall time in the log."""
            name = "timed"
            description = "Every stage in this process, in order, each one timed."

            def run(self, jobs):
                results = []
                for job in jobs:  # a job comes after every job it needs
                    started = time.perf_counter()
                    results.append(job.call([results[i] for i in job.needs]))
                    logging.getLogger(__name__).info("%s: %.1f s", job.name, time.perf_counter() - started)
                return results

        @hookimpl
        def register_executors(register):
            register(Timed)''',
    "register_commands": '''
        import typer
        from clir_calib import hookimpl

        @hookimpl
        def register_commands(app):
            @app.command("hello")
            def hello(name: str = typer.Option("world", "--name")):
                """Say hello."""
                typer.echo(f"hello {name}")''',
}


def hooks() -> list[str]:
    return sorted(name for name, fn in vars(hookspecs).items() if name.startswith("register_") and callable(fn))


def _example(hook: str) -> str:
    if hook == "register_alignment_losses":
        parts = [f"# {path.name}\n{path.read_text(encoding='utf-8').strip()}" for path in
                 (COSINE / "__init__.py", COSINE / "loss.py") if path.is_file()]
        return "\n\n".join(parts)
    return textwrap.dedent(EXAMPLES[hook]).strip()


def _components(hook: str) -> list[str]:
    registry = REGISTRIES.get(hook)
    if registry is None:
        return []
    rows = []
    for name, component in registry.all().items():
        if not str(getattr(component, "__module__", "")).startswith(SHIPPED):
            continue  # a component of another installed plugin: not part of the shipped reference
        described = component.describe() if callable(getattr(component, "describe", None)) else {}
        params = "; ".join(f"`{p['name']}` = {p['default']!r}: {p['help']}" for p in described.get("params", []))
        citation = str(getattr(component, "citation", "") or "").replace("|", "/")
        text = str(described.get("description", "")).replace("|", "/")
        rows.append(f"| `{name}` | {text} | {params or '–'} | {citation or '–'} |")
    if not rows:
        return []
    return ["Shipped components:", "", "| name | description | parameters | citation |", "|---|---|---|---|", *rows, ""]


def render() -> str:
    lines = ["# Plugin hooks", "",
             "Generated by `python -m clir_calib.cli.plugin_reference > docs/plugins.md` from the hook specifications",
             "(`clir_calib/hookspecs.py`) and each shipped component's own description; `tests/test_meta.py` keeps it",
             "current. A plugin is a package with an entry point in the `clir_calib` group",
             "(`[project.entry-points.clir_calib] my = \"my_plugin\"`); keep its entry-point module light and import",
             "heavy things inside the hooks. `plugins/clir-calib-cosine` is the complete worked example.", ""]
    for hook in hooks():
        function = getattr(hookspecs, hook)
        parameters = ", ".join(inspect.signature(function).parameters)
        lines += [f"## `{hook}({parameters})`", "", inspect.cleandoc(function.__doc__ or ""), "",
                  "Example:", "", "```python", _example(hook), "```", "", *_components(hook)]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
