"""Declared parameters: of plugin components (losses, calibrators, adapters, baselines, datasets) and of
config fields.

Every component declares its parameters once, as :class:`Param` objects (type, default, choices, bounds,
help), and every config field is a :func:`setting` holding one. The declarations drive the conversion and
validation of user-given values, the parameter listing of ``clir-calib plugins`` and ``docs/config.md``, so
documentation and behaviour cannot drift apart (the ir_measures idea). :func:`convert_scalar` is the one
conversion of booleans, integers, numbers and text and :meth:`Param.check` the one check of choices, bounds
and name patterns, so ``yes``, ``3e-5`` or ``> 0`` mean the same everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
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


#: Param's bounds: attribute, the test a value must pass, and its words in errors and in listings
BOUND_RULES: tuple[tuple[str, Callable[[Any, float], bool], str, str], ...] = (
    ("above", operator.gt, "> ", "> "), ("at_least", operator.ge, "at least ", ">= "),
    ("below", operator.lt, "< ", "< "), ("at_most", operator.le, "at most ", "<= "),
)


@dataclass(frozen=True)
class Param:
    """One declared parameter: name, type, default, a one-line help text, and the values it allows.

    Component parameters are ``Param`` objects in a class's ``params``; config fields carry one in their
    dataclass field (:func:`setting`). Both convert through :func:`convert_scalar` and validate through
    :meth:`check`, so a bound or a choice is declared once and reads the same in every error and listing.
    """

    name: str
    default: Any
    help: str
    type: type = float
    choices: tuple[Any, ...] | None = None
    optional: bool = False  # True when ``None`` is an allowed value
    above: float | None = None  # numbers: must be greater than this
    at_least: float | None = None  # numbers: must be at least this
    below: float | None = None  # numbers: must be smaller than this
    at_most: float | None = None  # numbers: must be at most this
    pattern: str | None = None  # text: a regular expression the whole value must match
    pattern_help: str = ""  # what ``pattern`` asks for, after "must be" ("a name of letters, digits and _ . -")

    def coerce(self, value: Any, owner: str) -> Any:
        """Convert ``value`` to the declared type and check it, or raise :class:`ConfigError` naming the fix."""
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
        return self.check(converted, f"{owner}: {self.name}")

    def check(self, value: Any, where: str) -> Any:
        """``value`` (already of the declared type) when its choices, bounds and pattern allow it."""
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        for attribute, holds, words, _ in BOUND_RULES:
            bound = getattr(self, attribute)
            if bound is not None and not holds(value, bound):
                raise ConfigError(f"{where} must be {words}{bound:g}, got {value!r}")
        if self.pattern is not None and not (isinstance(value, str) and re.fullmatch(self.pattern, value)):
            raise ConfigError(f"{where} must be {self.pattern_help or 'text matching ' + self.pattern}; got {value!r}")
        return value

    def rules(self) -> str:
        """The allowed values in words, e.g. ``one of exact, faiss`` or ``> 0, < 1`` ("" when anything goes)."""
        parts = [f"one of {', '.join(map(str, self.choices))}"] if self.choices is not None else []
        for attribute, _, _, symbol in BOUND_RULES:
            if (bound := getattr(self, attribute)) is not None:
                parts.append(f"{symbol}{bound:g}")
        if self.pattern is not None:
            parts.append(self.pattern_help or f"matches {self.pattern}")
        return "; ".join(parts)

    def describe(self) -> str:
        """Short human-readable form, e.g. ``epsilon: float = 0.05``."""
        text = f"{self.name}: {self.type.__name__} = {self.default!r}"
        if self.choices is not None:
            text += f" (one of {', '.join(map(str, self.choices))})"
        return text


PARAM_KEY = "clir_calib.param"  # where a config field's metadata holds its Param
ROLE_KEY = "clir_calib.role"  # and its role when it names a path: "input" (read) or "output" (written)
NEW_KEY = "clir_calib.new"  # a setting added later whose default keeps the earlier behaviour (see keyed_fields)


def setting(default: Any = dataclasses.MISSING, *, factory: Callable[[], Any] | None = None, help: str,
            role: str | None = None, new: bool = False, **rules: Any) -> Any:
    """A config dataclass field declared as a :class:`Param`: its default, help and allowed values.

    ``rules`` are Param's ``choices``, ``above``, ``at_least``, ``below``, ``at_most``, ``pattern`` and
    ``pattern_help``; they apply to the value, or to each item of a list. The field's name and type come from
    the dataclass (:func:`field_param`). ``role``: for a path, whether commands read it (``"input"``: an
    output may never replace it, :mod:`clir_calib.claims`) or write it (``"output"``). ``new``: added after
    stage outputs were keyed, with a default that changes nothing; at that default it stays out of the keys
    (:func:`keyed_fields`), so finished stages stay reusable.
    """
    param = Param("", default if factory is None else None, help, type=object, **rules)
    metadata = {PARAM_KEY: param, ROLE_KEY: role, NEW_KEY: new}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def keyed_fields(section: Any) -> dict[str, Any]:
    """A config section's fields as a stage key reads them: every field, except a ``new`` one at its default."""
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)
            if not (f.metadata.get(NEW_KEY) and getattr(section, f.name) == f.default)}


def field_param(field: dataclasses.Field[Any]) -> Param | None:
    """The Param a :func:`setting` field declares (named after the field), or None for a plain field."""
    param = field.metadata.get(PARAM_KEY)
    return dataclasses.replace(param, name=field.name) if isinstance(param, Param) else None


def check_fields(section: Any, where: str) -> Any:
    """Check every :func:`setting` field of the dataclass ``section``, and the sections inside it, against its
    declared rules (for configs built in code; :func:`clir_calib.config.from_dict` checks while it reads)."""
    for field in dataclasses.fields(section):
        check_field(field, getattr(section, field.name), f"{where}.{field.name}" if where else field.name, True)
    return section


def check_setting(section: type[Any], name: str, value: Any, where: str) -> Any:
    """``value`` when the rules of field ``name`` of the config dataclass ``section`` allow it."""
    field = next(f for f in dataclasses.fields(section) if f.name == name)
    return check_field(field, value, where, nested=True)


def check_field(field: dataclasses.Field[Any], value: Any, where: str, nested: bool) -> Any:
    """``value`` of a :func:`setting` field when its rules allow it: a list item by item, None (an empty
    optional value) always; with ``nested``, dataclass values are checked field by field too."""
    param = field_param(field)
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list):
        check_once(value, where)
    for index, item in enumerate(items):
        at = f"{where}[{index}]" if isinstance(value, list) else where
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            if nested:
                check_fields(item, at)
        elif param is not None and item is not None and not isinstance(item, dict):
            param.check(item, at)
    return value


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
                    **({"allowed": allowed} if (allowed := p.rules()) else {}),
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


def check_once(items: Sequence[Any], where: str) -> None:
    """Each item of a list setting once: ``--langs de,de`` would evaluate (and count) German twice."""
    seen: list[Any] = []
    for item in items:
        if isinstance(item, str | int | float) and item in seen:
            raise ConfigError(f"{where} lists {item!r} twice; list each value once")
        seen.append(item)
