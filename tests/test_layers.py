"""One-way layers: no import cycle anywhere in clir_calib, and no import against the declared layer order.

The order (lowest first) is the one ARCHITECTURE.md documents; a module may import its own layer and
lower ones, function-level imports included (``TYPE_CHECKING`` blocks excluded: they never run).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import cycles, import_graph

import clir_calib

ROOT = Path(clir_calib.__file__).parent
#: lowest layer first; a top-level module or sub-package of clir_calib belongs to exactly one layer
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "hashing", "atomic", "stored", "locking", "params", "claims", "progress", "hookspecs", "shared_work"),
    ("config", "plugins"),
    ("data", "models", "metrics", "report"),
    ("losses", "calibrators", "adapters", "retrieval", "baselines", "maps"),
    ("distill", "alignment", "evaluation"),
    ("transfer", "integrations"),
    ("pipeline", "api"),
    ("cli", "__main__", "launch"),
)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 0  # the package's __init__: re-exports from the lowest layer only
    for number, members in enumerate(LAYERS):
        if parts[1] in members:
            return number
    raise AssertionError(f"{module} is in no layer; add {parts[1]!r} to LAYERS and to ARCHITECTURE.md")


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
                  for a, targets in graph.items() for b in targets if layer_of(b) > layer_of(a))


def test_clir_calib_has_no_import_cycle() -> None:
    assert cycles(import_graph(ROOT, "clir_calib")) == []


def test_imports_follow_the_layer_order() -> None:
    assert layer_violations(import_graph(ROOT, "clir_calib")) == []


def test_every_module_is_in_a_layer() -> None:
    for module in import_graph(ROOT, "clir_calib"):
        layer_of(module)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_check_finds_a_cycle_and_ignores_type_checking_imports(tmp_path: Path) -> None:
    package = tmp_path / "fixture_pkg"
    _write(package, {
        "__init__.py": "",
        "a.py": "from fixture_pkg import b\n",
        "b.py": "def f():\n    from fixture_pkg.c import g\n    return g\n",  # function level counts
        "c.py": "import fixture_pkg.a\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fixture_pkg.e import X\n",
        "e.py": "from fixture_pkg import d\n",
    })
    graph = import_graph(package, "fixture_pkg")
    assert cycles(graph) == [["fixture_pkg.a", "fixture_pkg.b", "fixture_pkg.c"]]
    assert "fixture_pkg.e" not in graph["fixture_pkg.d"]


@pytest.mark.parametrize("low,high", [("clir_calib.errors", "clir_calib.cli.run"),
                                      ("clir_calib.metrics.weighted", "clir_calib.evaluation.bootstrap")])
def test_the_check_flags_an_import_upwards(low: str, high: str) -> None:
    assert layer_violations({low: {high}, high: set()}) != []
