"""Declared parameters of plugin components (losses, calibrators, adapters, baselines, datasets).

Every component declares its parameters once, as :class:`Param` objects (type, default, choices, bounds,
help). The declarations drive the conversion and validation of user-given values and the parameter
listing of ``clir-calib plugins`` (with each help text), so documentation and behaviour cannot drift apart
(the ir_measures idea). :func:`convert_scalar` is the one conversion of booleans, integers, numbers and
text: config fields (``config.py``) go through it too, so ``yes`` or ``3e-5`` mean the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from clir_calib.errors import ConfigError, DataError

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
SCALAR_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def convert_scalar(tp: type, value: Any, where: str) -> Any:
    """The one conversion of a bool, int, float or str value, for component parameters and config fields alike.

    bool: true/false, or the words YAML 1.1 reads as booleans (yes/no, on/off, 1/0); int: an integer (also
    ``2.0`` or ``"2"``, never a bool); float: a finite number (also ``"3e-5"``, which YAML 1.1 reads as text);
    str: text or a number. Anything else is a :class:`ConfigError` ``"{where}: expected ..., got ..."``.
    """
    def refuse() -> ConfigError:
        return ConfigError(f"{where}: expected {SCALAR_NAMES[tp]}, got {value!r}")

    if tp is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower() if isinstance(value, str | int) else None
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise refuse()
    if isinstance(value, bool):
        raise refuse()
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        if not isinstance(value, int):
            raise refuse()
        return value
    if tp is float:
        try:
            number = float(value) if isinstance(value, str | int | float) else None
        except ValueError:
            number = None
        if number is None:
            raise refuse()
        if not math.isfinite(number):
            raise ConfigError(f"{where}: must be a finite number, got {value!r}")
        return number
    if tp is str:
        if not isinstance(value, str | int | float):
            raise refuse()
        return str(value)
    raise TypeError(f"convert_scalar handles bool, int, float and str, not {tp!r}")


@dataclass(frozen=True)
class Param:
    """One declared parameter: its name, type, default and a one-line help text."""

    name: str
    default: Any
    help: str
    type: type = float
    choices: tuple[Any, ...] | None = None
    optional: bool = False  # True when ``None`` is an allowed value
    above: float | None = None  # numbers: must be greater than this
    at_least: float | None = None  # numbers: must be at least this

    def coerce(self, value: Any, owner: str) -> Any:
        """Convert ``value`` to the declared type, or raise :class:`ConfigError` naming the fix."""
        if value is None:
            if self.optional:
                return None
            raise ConfigError(f"{owner}: parameter {self.name!r} must not be empty ({self.describe()})")
        if self.type in SCALAR_NAMES:
            converted: Any = convert_scalar(self.type, value, f"{owner}: parameter {self.name!r} ({self.type.__name__})")
        else:
            try:
                converted = self.type(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{owner}: parameter {self.name!r} expects {self.type.__name__}, got {value!r}"
                ) from None
        if self.choices is not None and converted not in self.choices:
            raise ConfigError(
                f"{owner}: parameter {self.name!r} must be one of {list(self.choices)}, got {value!r}"
            )
        if self.above is not None and not converted > self.above:
            raise ConfigError(f"{owner}: {self.name} must be > {self.above}, got {value!r}")
        if self.at_least is not None and not converted >= self.at_least:
            raise ConfigError(f"{owner}: {self.name} must be at least {self.at_least}, got {value!r}")
        return converted

    def describe(self) -> str:
        """Short human-readable form, e.g. ``epsilon: float = 0.05``."""
        text = f"{self.name}: {self.type.__name__} = {self.default!r}"
        if self.choices is not None:
            text += f" (one of {', '.join(map(str, self.choices))})"
        return text


class Declared:
    """Mixin for plugin components: a registry name, a description and declared parameters."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[Sequence[Param]] = ()
    citation: ClassVar[str] = ""

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The declared defaults, by parameter name."""
        return {p.name: p.default for p in cls.params}

    @classmethod
    def resolve_params(cls, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``given``; unknown names and bad types raise :class:`ConfigError`."""
        given = dict(given or {})
        declared = {p.name: p for p in cls.params}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            valid = ", ".join(sorted(declared)) or "(none)"
            raise ConfigError(f"{cls.name}: unknown parameter(s) {', '.join(unknown)}; valid: {valid}")
        owner = cls.name or cls.__name__
        return {
            name: (p.coerce(given[name], owner) if name in given else p.default)
            for name, p in declared.items()
        }

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """JSON-friendly description used by ``clir-calib plugins --json``."""
        doc = (cls.__doc__ or "").strip()
        return {
            "name": cls.name,
            "description": cls.description or (doc.splitlines()[0] if doc else ""),
            "params": [
                {
                    "name": p.name,
                    "type": p.type.__name__,
                    "default": p.default,
                    "help": p.help,
                    **({"choices": list(p.choices)} if p.choices is not None else {}),
                }
                for p in cls.params
            ],
            "citation": cls.citation,
        }


def check_finite_state(state: Any, source: str) -> None:
    """Every number in a fitted state is finite (a fitted file never holds NaN/inf: it was edited or broken)."""
    stack = [state]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise DataError(f"{source} holds a non-finite number ({node}); refit it with 'clir-calib calibrate'")


def rebuild_component(cls: Any, params: Any, source: str, kind: str) -> Any:
    """``cls(**params)`` for a component read back from a file: a bad ``params`` is a one-line DataError."""
    params = params or {}
    if not isinstance(params, dict):
        raise DataError(f"{source}: 'params' of {kind} {cls.name!r} is not a mapping; refit it")
    try:
        return cls(**params)
    except (TypeError, ValueError) as error:
        raise DataError(f"{source}: bad parameters for {kind} {cls.name!r} ({error}); refit it") from None
