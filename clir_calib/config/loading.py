"""YAML files and ``--set section.key=value`` overrides -> an :class:`ExperimentConfig`, and back.

A config is read from a YAML file (optional), updated by dotted overrides (values parsed as YAML), validated
(unknown keys are errors naming the key and the valid ones; values convert through
:func:`clir_calib.params.convert_scalar` and are checked against each field's declared
:class:`~clir_calib.params.Param`, as component parameters are) and saved next to every output as
``config.yaml`` so each result can be reproduced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from clir_calib.atomic import write_text
from clir_calib.config.sections import ExperimentConfig, LossSpec
from clir_calib.errors import ConfigError
from clir_calib.params import SCALAR_NAMES, check_field, convert_scalar

T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown config key {key!r}; valid keys here: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        here = f"{where}.{name}" if where else name
        kwargs[name] = check_field(fields[name], _convert(hints[name], value, here), here, nested=False)
    return cls(**kwargs)


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if isinstance(value, list):  # e.g. int | list[int]: a list goes to the list member
            inner = [a for a in inner if typing.get_origin(a) is list] or inner
        else:
            inner = [a for a in inner if typing.get_origin(a) is not list] or inner
        return _convert(inner[0], value, where)
    if dataclasses.is_dataclass(tp):
        if isinstance(tp, type) and isinstance(value, str) and tp is LossSpec:
            return LossSpec(value)  # shorthand: "ot" for {name: ot}
        return from_dict(tp, value, where)  # type: ignore[arg-type]
    if origin is list:
        if isinstance(value, str) and args and args[0] is str:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp in SCALAR_NAMES:
        return convert_scalar(tp, value, where)
    return value


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-data form of a config dataclass (YAML/JSON serialisable)."""
    return dataclasses.asdict(config)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (value parsed as YAML) to a plain config mapping."""
    result = json.loads(json.dumps(data))
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} must look like section.key=value, e.g. distill.lr=3e-5")
        dotted, raw = override.split("=", 1)
        keys = [k for k in dotted.strip().split(".") if k]
        if not keys:
            raise ConfigError(f"override {override!r} has an empty key")
        try:
            value = load_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node: Any = result
        for i, key in enumerate(keys[:-1]):
            if isinstance(node, dict) and key not in node and _is_free_mapping(result, keys[:i]):
                node[key] = {}  # calibrate.params.histogram.bins=5: a component's parameters, created on use
            if not isinstance(node, dict) or key not in node:
                raise ConfigError(f"unknown config key {'.'.join(keys[: i + 1])!r} in override {override!r}")
            node = node[key]
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {'.'.join(keys[:-1])!r} is not a section")
        if keys[-1] not in node and not _is_free_mapping(result, keys[:-1]):
            raise ConfigError(f"unknown config key {dotted!r}; check the spelling against configs/*.yaml")
        node[keys[-1]] = value
    return result


def _is_free_mapping(data: dict[str, Any], keys: list[str]) -> bool:
    """True where arbitrary keys are allowed: ``params`` mappings (``executor_params`` too), and the per-component mappings inside
    ``calibrate.params`` / ``calibrate.adapter_params`` (component name -> its parameters)."""
    if not keys:
        return False
    if keys[-1] in ("params", "adapter_params", "executor_params"):
        return True
    return len(keys) >= 2 and keys[-2] in ("params", "adapter_params") and keys[0] == "calibrate"


def load_config(path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Defaults, updated by the YAML file at ``path`` and then by dotted ``overrides``.

    The dotted keys the file and the overrides set are remembered (:func:`explicit_keys`), so that a value a
    user chose can be told from a default: a run's own teacher replaces the default one, never a chosen one.
    """
    data = to_dict(ExperimentConfig())
    chosen: set[str] = set()
    if path is not None:
        file_data = read_yaml(path)
        chosen |= _leaf_keys(file_data, "")
        data = _merge(data, file_data, "")
    chosen |= {override.split("=", 1)[0].strip() for override in overrides or [] if "=" in override}
    data = apply_overrides(data, overrides or [])
    config = from_dict(ExperimentConfig, data)
    config.__dict__[EXPLICIT_ATTRIBUTE] = frozenset(chosen)
    return config


#: where :func:`load_config` keeps the keys a user set (an instance attribute, not a field: never saved or hashed)
EXPLICIT_ATTRIBUTE = "_explicit_keys"


def explicit_keys(config: ExperimentConfig) -> frozenset[str]:
    """The dotted keys the config file and overrides set (empty for a config built in code)."""
    return frozenset(config.__dict__.get(EXPLICIT_ATTRIBUTE, frozenset()))


def is_explicit(config: ExperimentConfig, key: str) -> bool:
    """Whether the user set ``key`` (``models.teacher.name``), or a section above it (``models.teacher``)."""
    keys = explicit_keys(config)
    parts = key.split(".")
    return any(".".join(parts[:i]) in keys for i in range(1, len(parts) + 1))


def _leaf_keys(data: Any, where: str) -> set[str]:
    if not isinstance(data, dict) or where.endswith("params") or not data:
        return {where} if where else set()
    keys: set[str] = set()
    for key, value in data.items():
        keys |= _leaf_keys(value, f"{where}.{key}" if where else str(key))
    return keys


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: ``*name`` would let a 1 kB file expand to billions of values before any key is
    checked ("billion laughs"), and a config never needs one."""

    where = "config"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise ConfigError(f"{self.where} line {mark.line + 1}: YAML aliases (*name) are not allowed in configs; "
                              "write the value out")
        return super().compose_node(parent, index)


def load_yaml(text: str, where: str = "override") -> Any:
    """Parse YAML text as configs are parsed everywhere: safe types only, aliases refused before expansion."""
    loader = _NoAliasLoader(text)
    loader.where = where
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping with one-line errors for missing or broken files."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file {file} not found; pass an existing YAML file (see configs/)")
    try:
        loaded = load_yaml(file.read_text(encoding="utf-8"), str(file))
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {file} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {file} is not valid YAML{at}; fix the syntax there") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {file} must hold a mapping at the top level")
    return loaded


def _merge(base: dict[str, Any], update: dict[str, Any], where: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        here = f"{where}.{key}" if where else str(key)
        if key not in base:
            # from_dict reports the unknown key with the valid ones
            merged[key] = value
        elif isinstance(base[key], dict) and isinstance(value, dict) and not here.endswith("params"):
            merged[key] = _merge(base[key], value, here)
        else:
            merged[key] = value
    return merged


def save_config(config: Any, folder: str | os.PathLike[str], name: str = "config.yaml") -> Path:
    """Write the resolved config as YAML into ``folder`` (atomically) and return its path."""
    target = Path(folder) / name
    write_text(target, yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True))
    return target


def config_hash(*parts: Any) -> str:
    """Stable short hash of config sections and other JSON-serialisable inputs."""
    payload = json.dumps(
        [to_dict(p) if dataclasses.is_dataclass(p) else p for p in parts],  # type: ignore[arg-type]
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
