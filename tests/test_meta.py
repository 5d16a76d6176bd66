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
    tests = [p for p in (REPO / "tests").glob("test_*.py") if p.name != Path(__file__).name]
    assert any(hook in p.read_text(encoding="utf-8") for p in tests), f"no test mentions {hook}"


REGISTRIES = {"alignment loss": plugins.get_alignment_losses, "calibrator": plugins.get_calibrators,
              "transfer adapter": plugins.get_transfer_adapters, "baseline": plugins.get_baselines,
              "dataset": plugins.DATASETS.all}


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_component_describes_itself_and_its_parameters(kind: str) -> None:
    for name, component in REGISTRIES[kind]().items():
        described = component.describe()
        assert described["name"] == name and described["description"], f"{kind} {name} has no description"
        for param in described["params"]:
            assert param["help"], f"{kind} {name}: parameter {param['name']} has no help text"
