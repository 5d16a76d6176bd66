"""Typed experiment configuration: YAML files -> dataclasses, with dotted overrides.

Every command works off one :class:`ExperimentConfig`. It is read from a YAML file (optional),
updated by ``--set section.key=value`` overrides (values parsed as YAML), validated (unknown
keys are errors naming the key and the valid ones) and saved next to every output as
``config.yaml`` so each result can be reproduced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from clir_calib.atomic import write_text
from clir_calib.errors import ConfigError
from clir_calib.params import SCALAR_NAMES, convert_scalar

#: Multi30k's document languages, splits and tasks: the defaults. Other values are allowed (a dataset may have
#: any language, split or task); what exists is checked against the source and the prepared data.
LANGUAGES: tuple[str, ...] = ("de", "fr", "cs")
SPLITS: tuple[str, ...] = ("train", "val", "test_2016_flickr", "test_2017_flickr")
EVAL_SPLITS: tuple[str, ...] = ("val", "test_2016_flickr", "test_2017_flickr")
TASKS: tuple[str, ...] = ("translation", "description")
#: a language code (ISO 639-1/3, optionally with a region or script: pt-br, zh-hant)
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})?")
#: a split or task name: it becomes part of file names
PART_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_MULTI30K_VARIABLE = "CLIR_CALIB_MULTI30K"
E5_SMALL = "intfloat/multilingual-e5-small"


@dataclass
class DataConfig:
    """Which dataset, where it comes from and where the prepared data goes."""

    dataset: str = "multi30k"  # a registered dataset: multi30k | folder (BEIR/TREC on disk) | a plugin's
    params: dict[str, Any] = field(default_factory=dict)  # dataset parameters (clir-calib plugins lists them)
    source: str | None = None  # a Multi30k folder; None: $CLIR_CALIB_MULTI30K, then ../shared/data/multi30k
    url: str | None = None  # base URL of the official raw files (used when source is not given)
    checksums: str | None = None  # JSON {"files": {path: sha256}} pinning the --url files, checked on first download too
    prepared: str = "runs/data/multi30k"
    langs: list[str] = field(default_factory=lambda: list(LANGUAGES))
    splits: list[str] = field(default_factory=lambda: list(SPLITS))


@dataclass
class EncoderConfig:
    """One encoder: a hub name or local path plus how texts become vectors."""

    name: str = E5_SMALL
    pooling: str = "mean"  # mean | cls
    normalize: bool = True
    max_length: int = 128
    query_prefix: str | None = None  # None: chosen from the model name (E5: "query: ")
    passage_prefix: str | None = None  # None: chosen from the model name (E5: "passage: ")
    batch_size: int = 64


@dataclass
class ModelsConfig:
    """The frozen English teacher and the multilingual student it is distilled into."""

    teacher: EncoderConfig = field(default_factory=EncoderConfig)
    student: EncoderConfig = field(default_factory=EncoderConfig)


@dataclass
class LossSpec:
    """One term of the alignment objective: a registered loss, its weight and parameters."""

    name: str = "ot"
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class DistillConfig:
    """Training of the student on (en, xx) bitext."""

    lang: str = "de"
    losses: list[LossSpec] = field(default_factory=lambda: [LossSpec("ot")])
    lr: float = 2e-5
    weight_decay: float = 0.01
    epochs: int = 1
    batch_size: int = 32
    grad_accum: int = 1
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_pairs: int | list[int] | None = None  # a list: `clir-calib run` trains one run per size (data-size curve)
    freeze_embeddings: bool = True
    eval_every: int = 100
    save_every: int = 100
    val_pairs: int | None = 1000
    mixed_precision: str = "auto"  # auto | no | bf16 | fp16
    projection: bool = False  # learn a linear map when teacher and student widths differ
    select: str = "last"  # best: restore the step with the highest val accuracy (seen language) | last
    teacher_cache: str | None = None  # folder of frozen-teacher outputs shared by runs; None: private to the run (`run`: OUT/teacher-cache)
    log_with: str | None = None  # tensorboard | wandb | mlflow: also send the training log to that tracker


@dataclass
class EvaluateConfig:
    """Retrieval and calibration measurement."""

    langs: list[str] = field(default_factory=lambda: list(LANGUAGES))
    splits: list[str] = field(default_factory=lambda: ["test_2016_flickr"])
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    top_k: int = 100
    bins: int = 15
    bootstrap: int = 1000
    temperature: float = 1.0  # listwise softmax temperature for raw scores
    backend: str = "exact"  # exact | faiss
    system: str = ""  # name of the evaluated system in tables; "" = from the document model or baseline
    documents: str | None = None  # document encoder: model name/path or a distill run folder; None = models.student
    baseline: str | None = None  # a registered document baseline (documents transformed, then the teacher encodes)
    params: dict[str, Any] = field(default_factory=dict)  # baseline parameters
    calibrator: str | None = None  # a fitted calibrator JSON (clir-calib calibrate) applied to the scores
    pointwise_depth: int = 10  # pointwise view: the top-N (query, document) pairs per query
    sigmoid_scale: float = 1.0  # pointwise view: P(relevant) = sigmoid(scale * score + bias)
    sigmoid_bias: float = 0.0
    index_dir: str = "runs/index"  # embedding cache shared by index and evaluate
    permutations: int = 1000  # paired randomization test rounds (comparison tables)
    alpha: float = 0.05  # significance level marked in comparison tables
    max_images: int | None = None  # quick runs: only the first N images of each split (queries and documents)
    diagrams: str = "all"  # reliability diagrams per entry: all | equal_width | none


@dataclass
class CalibrateConfig:
    """Which calibrators to fit where, and where to apply them unchanged."""

    calibrators: list[str] = field(
        default_factory=lambda: ["identity", "temperature", "platt", "isotonic", "histogram", "beta"]
    )
    fit_lang: str = "de"
    fit_split: str = "val"
    target_langs: list[str] = field(default_factory=lambda: list(LANGUAGES))
    target_splits: list[str] = field(default_factory=lambda: ["test_2016_flickr"])
    tasks: list[str] | None = None  # None: every task whose fit set the evaluate folder holds
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # calibrator name -> parameters
    diagrams: bool = True  # reliability diagrams before/after each calibrator (transfer-gap plots always)
    adapters: list[str] = field(default_factory=list)  # label-free transfer adapters, e.g. [none, quantile]
    adapt_tasks: list[str] | None = None  # tasks the adapters and bounds run on; None: every calibrated task
    adapter_params: dict[str, dict[str, Any]] = field(default_factory=dict)  # adapter name -> parameters
    bounds: list[str] = field(default_factory=list)  # oracle | fewshot (they use target labels, on purpose)
    fewshot_sizes: list[int] = field(default_factory=lambda: [10, 50, 200])  # labelled target val queries
    fewshot_draws: int = 20  # random draws per few-shot size
    bootstrap: int = 200  # resamples for the ECE intervals of adaptation rows


@dataclass
class MethodConfig:
    """One system of the study: ``none`` (no distillation), a loss combination, or a baseline."""

    name: str = "none"
    losses: list[LossSpec] = field(default_factory=list)  # empty: the student is the base model
    baseline: str | None = None  # a registered document-side baseline, e.g. "nmt"
    params: dict[str, Any] = field(default_factory=dict)  # baseline parameters
    queries: str = "teacher"  # who encodes the English queries: teacher | student (e.g. none with an English teacher)
    seeds: list[int] = field(default_factory=list)  # distilled methods: their own seeds ([]: the study's seeds)


@dataclass
class ExperimentConfig:
    """A whole study; every command reads the sections it needs."""

    name: str = "experiment"
    seed: int = 13
    seeds: list[int] = field(default_factory=list)  # `clir-calib run`: one distillation per seed; []: [seed]
    device: str = "auto"  # auto | cpu | cuda
    output_dir: str = "runs/experiment"
    data: DataConfig = field(default_factory=DataConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    methods: list[MethodConfig] = field(
        default_factory=lambda: [
            MethodConfig("none"),
            MethodConfig("mse", [LossSpec("mse")]),
            MethodConfig("ot", [LossSpec("ot")]),
        ]
    )
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    calibrate: CalibrateConfig = field(default_factory=CalibrateConfig)


T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown config key {key!r}; valid keys here: {', '.join(sorted(names))}")
    kwargs = {
        name: _convert(hints[name], value, f"{where}.{name}" if where else name)
        for name, value in data.items()
    }
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
            value = yaml.safe_load(raw) if raw.strip() else ""
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
    """True where arbitrary keys are allowed: ``params`` mappings, and the per-component mappings inside
    ``calibrate.params`` / ``calibrate.adapter_params`` (component name -> its parameters)."""
    if not keys:
        return False
    if keys[-1] in ("params", "adapter_params"):
        return True
    return len(keys) >= 2 and keys[-2] in ("params", "adapter_params") and keys[0] == "calibrate"


def load_config(path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Defaults, updated by the YAML file at ``path`` and then by dotted ``overrides``."""
    data = to_dict(ExperimentConfig())
    if path is not None:
        file_data = read_yaml(path)
        data = _merge(data, file_data, "")
    data = apply_overrides(data, overrides or [])
    return from_dict(ExperimentConfig, data)


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping with one-line errors for missing or broken files."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file {file} not found; pass an existing YAML file (see configs/)")
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
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


def check_languages(langs: list[str], allowed: tuple[str, ...] | None = None) -> list[str]:
    """Return ``langs`` or raise a one-line error: not a language code, English (the query language), or,
    with ``allowed``, not among those. Whether the data has a language is checked where it is read."""
    for lang in langs:
        if allowed is not None and lang not in allowed:
            raise ConfigError(f"unknown language {lang!r}; choose from {', '.join(allowed)}")
        if lang == "en":
            raise ConfigError("unknown language 'en': English is the query language; name document languages "
                              f"such as {', '.join(LANGUAGES)}")
        if not isinstance(lang, str) or not LANGUAGE_CODE.fullmatch(lang):
            raise ConfigError(f"unknown language {lang!r}: not a language code (lower case, like {', '.join(LANGUAGES)})")
    return langs


def check_splits(splits: list[str], allowed: tuple[str, ...] | None = None) -> list[str]:
    """Return ``splits`` or raise a one-line error: not a usable name, or, with ``allowed``, not among those."""
    for split in splits:
        if allowed is not None and split not in allowed:
            raise ConfigError(f"unknown split {split!r}; choose from {', '.join(allowed)}")
        if not isinstance(split, str) or not PART_NAME.fullmatch(split):
            raise ConfigError(f"unknown split {split!r}: a split name holds letters, digits and _ . - only")
    return splits


def default_multi30k_source() -> Path | None:
    """``$CLIR_CALIB_MULTI30K``, else ``../shared/data/multi30k`` when it exists."""
    env = os.environ.get(DEFAULT_MULTI30K_VARIABLE)
    if env:
        return Path(env)
    for candidate in (Path("../shared/data/multi30k"), Path(__file__).resolve().parents[2] / "shared/data/multi30k"):
        if candidate.is_dir():
            return candidate
    return None
