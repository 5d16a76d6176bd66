"""Meta-tests in the datasette style: the plugin surface is documented and tested, components describe themselves."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from clir_calib import hookspecs, plugins

REPO = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, fn in vars(hookspecs).items() if name.startswith("register_") and callable(fn))


def test_there_are_hooks() -> None:
    assert {"register_alignment_losses", "register_calibrators", "register_transfer_adapters"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook: str) -> None:
    parameters = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"{hook}({parameters})" in text, f"README.md must show `{hook}({parameters})`"
    assert (getattr(hookspecs, hook).__doc__ or "").strip(), f"{hook} needs a docstring in hookspecs.py"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    """datasette's rule: each hook has a test named after it, which registers a component through it."""
    tests = [p for p in (REPO / "tests").glob("test_*.py") if p.name != Path(__file__).name]
    named = [p for p in tests if f"def test_hook_{hook}(" in p.read_text(encoding="utf-8")]
    assert named, f"no test named test_hook_{hook}"
    assert hook in named[0].read_text(encoding="utf-8")


REGISTRIES = {"alignment loss": plugins.ALIGNMENT_LOSSES.all, "calibrator": plugins.CALIBRATORS.all,
              "transfer adapter": plugins.TRANSFER_ADAPTERS.all, "baseline": plugins.BASELINES.all,
              "dataset": plugins.DATASETS.all, "report section": plugins.REPORT_SECTIONS.all}


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_component_describes_itself_and_its_parameters(kind: str) -> None:
    for name, component in REGISTRIES[kind]().items():
        described = component.describe()
        assert described["name"] == name and described["description"], f"{kind} {name} has no description"
        for param in described["params"]:
            assert param["help"], f"{kind} {name}: parameter {param['name']} has no help text"


COMMAND_BODY_LIMIT = 15


def command_bodies() -> list[tuple[int, str, str]]:
    """(lines, file, name) of every Typer command's body (docstring excluded), built-in and the NMT plugin's."""
    import ast

    files = [*sorted((REPO / "clir_calib" / "cli").glob("*.py")),
             REPO / "plugins" / "clir-calib-nmt" / "clir_calib_nmt" / "cli.py"]
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command" for d in node.decorator_list):
                body = node.body[1:] if isinstance(node.body[0], ast.Expr) and isinstance(
                    node.body[0].value, ast.Constant) else node.body
                found.append((body[-1].end_lineno - body[0].lineno + 1, path.name, node.name))
    return found


def test_every_command_is_a_thin_layer_over_one_library_call() -> None:
    """spaCy-style commands: resolve the config, call the library, render; the logic lives in the library."""
    bodies = command_bodies()
    assert len(bodies) >= 10  # the check sees the commands
    long = [f"{name} in {file}: {lines} lines" for lines, file, name in bodies if lines > COMMAND_BODY_LIMIT]
    assert not long, f"command bodies over {COMMAND_BODY_LIMIT} lines (move the logic into the library): {long}"


MODULE_LINE_LIMIT = 300


def test_no_library_module_is_over_the_size_a_reader_takes_in_at_once() -> None:
    modules = [*sorted((REPO / "clir_calib").rglob("*.py")), *sorted((REPO / "plugins").rglob("*.py"))]
    long = [f"{p.relative_to(REPO)}: {n}" for p in modules
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MODULE_LINE_LIMIT]
    assert not long, f"modules over {MODULE_LINE_LIMIT} lines (split them by responsibility): {long}"


def test_every_config_field_is_documented_and_the_reference_is_current() -> None:
    """docs/config.md is generated from the sections' declared Params; a field declared without one, or
    with an empty help text, fails here."""
    from clir_calib.config import reference

    declared = {cls.__name__: reference.field_params(cls) for cls in reference.SECTIONS.values()}
    undocumented = [f"{name}.{field}" for name, params in declared.items() for field, param in params.items()
                    if param is None or not param.help.strip()]
    assert not undocumented, f"config fields without a setting(help=...) in config/sections.py: {undocumented}"
    assert len(declared["DistillConfig"]) >= 15
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    assert text == reference.markdown(), "docs/config.md is out of date: run `python -m clir_calib.config.reference > docs/config.md`"


def test_no_method_loss_or_baseline_name_is_a_literal_in_the_pipeline() -> None:
    """Comparisons come from the data and the config (report.reference, report.pairs, capabilities such as a loss's
    ``transports_tokens``), never from names in code: a new method must reach every table."""
    import ast

    from clir_calib.config import ExperimentConfig

    names = ({m.name for m in ExperimentConfig().methods} | set(plugins.ALIGNMENT_LOSSES.names())
             | set(plugins.BASELINES.names()) | {"ot+mse"})
    found = []
    for path in sorted((REPO / "clir_calib" / "pipeline").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not found, found


def test_the_plugin_reference_is_current() -> None:
    """docs/plugins.md: one section per hook with its docstring and an example, generated; it never goes stale."""
    from clir_calib.cli.plugin_reference import hooks, render

    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert text == render(), "docs/plugins.md is out of date: run `python -m clir_calib.cli.plugin_reference > docs/plugins.md`"
    for hook in hooks():
        assert f"## `{hook}(" in text, hook
    assert "class CosineAlignmentLoss" in text  # the worked example is the shipped plugin itself


def test_every_component_that_implements_a_paper_cites_it() -> None:
    """CONTRIBUTING's promise: losses, calibrators, adapters and datasets name their source."""
    for kind in ("alignment loss", "calibrator", "transfer adapter", "dataset"):
        for name, component in REGISTRIES[kind]().items():
            if name in ("identity", "none"):  # the raw scores / no adaptation: nothing to cite
                continue
            assert str(getattr(component, "citation", "")).strip(), f"{kind} {name} has no citation"


def test_every_cli_option_map_names_a_real_option_and_config_key() -> None:
    """The options -> config keys maps (EVALUATE_OPTIONS and the like) name options the command has and keys the
    config has, so help, docs and errors generated from them cannot drift."""
    import dataclasses
    import importlib

    from clir_calib.config import ExperimentConfig

    def has_key(dotted: str) -> bool:
        node: object = ExperimentConfig()
        for part in dotted.split("."):
            if not dataclasses.is_dataclass(node) or part not in {f.name for f in dataclasses.fields(node)}:
                return False
            node = getattr(node, part)
        return True

    maps = 0
    for path in sorted((REPO / "clir_calib" / "cli").glob("*.py")):
        module = importlib.import_module(f"clir_calib.cli.{path.stem}")
        for name, mapping in vars(module).items():
            if not (name.endswith("_OPTIONS") and isinstance(mapping, dict)):
                continue
            maps += 1
            source = path.read_text(encoding="utf-8")
            for option, key in mapping.items():
                assert has_key(key), f"{path.name} {name}: {key!r} is not a config key"
                assert f"{option}:" in source, f"{path.name} {name}: the command has no parameter {option!r}"
    assert maps >= 4
