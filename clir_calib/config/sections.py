"""The experiment configuration's sections: one dataclass per section, the defaults, and name checks.

Every command works off one :class:`ExperimentConfig`; :mod:`clir_calib.config.loading` reads it from YAML
and dotted overrides and saves it next to every output.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clir_calib.errors import ConfigError

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
    prepared: str = "runs/data/multi30k"  # where prepare writes and every later command reads
    #: document languages to prepare (English is the query language)
    langs: list[str] = field(default_factory=lambda: list(LANGUAGES))
    #: splits to prepare (Multi30k: any found in the source, e.g. test_2018_flickr)
    splits: list[str] = field(default_factory=lambda: list(SPLITS))


@dataclass
class EncoderConfig:
    """One encoder: a hub name or local path plus how texts become vectors."""

    name: str = E5_SMALL  # hub name or local folder (offline fallbacks: clir-calib models)
    pooling: str = "mean"  # mean | cls
    normalize: bool = True  # L2-normalise embeddings (cosine scores)
    max_length: int = 128  # tokens kept per text
    query_prefix: str | None = None  # None: chosen from the model name (E5: "query: ")
    passage_prefix: str | None = None  # None: chosen from the model name (E5: "passage: ")
    batch_size: int = 64  # texts per encoding batch


@dataclass
class ModelsConfig:
    """The frozen English teacher and the multilingual student it is distilled into."""

    #: encodes English: the queries, and the English side of the bitext in distill
    teacher: EncoderConfig = field(default_factory=EncoderConfig)
    #: the multilingual model distilled (and its base, for `none`)
    student: EncoderConfig = field(default_factory=EncoderConfig)


@dataclass
class LossSpec:
    """One term of the alignment objective: a registered loss, its weight and parameters."""

    name: str = "ot"  # a registered alignment loss (clir-calib plugins)
    weight: float = 1.0  # its weight in the sum
    params: dict[str, Any] = field(default_factory=dict)  # its declared parameters


@dataclass
class DistillConfig:
    """Training of the student on (en, xx) bitext."""

    lang: str = "de"  # the bitext language (the seen language)
    #: the alignment objective: a weighted sum of losses
    losses: list[LossSpec] = field(default_factory=lambda: [LossSpec("ot")])
    lr: float = 2e-5  # peak AdamW learning rate
    weight_decay: float = 0.01  # AdamW weight decay
    epochs: int = 1  # passes over the training pairs
    batch_size: int = 32  # pairs per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    warmup_ratio: float = 0.1  # share of steps with linear warm-up (then linear decay)
    max_grad_norm: float = 1.0  # gradient clipping norm
    max_pairs: int | list[int] | None = None  # a list: `clir-calib run` trains one run per size (data-size curve)
    freeze_embeddings: bool = True  # keep the student's word embeddings fixed
    eval_every: int = 100  # steps between val accuracy checks
    save_every: int = 100  # steps between checkpoints (resume)
    val_pairs: int | None = 1000  # val pairs for the accuracy check (None: all)
    mixed_precision: str = "auto"  # auto | no | bf16 | fp16
    projection: bool = False  # learn a linear map when teacher and student widths differ
    select: str = "last"  # best: restore the step with the highest val accuracy (seen language) | last
    teacher_cache: str | None = None  # folder of frozen-teacher outputs shared by runs; None: private to the run (`run`: OUT/teacher-cache)
    log_with: str | None = None  # tensorboard | wandb | mlflow: also send the training log to that tracker


@dataclass
class EvaluateConfig:
    """Retrieval and calibration measurement."""

    langs: list[str] = field(default_factory=lambda: list(LANGUAGES))  # document languages evaluated
    #: splits evaluated (any the prepared data has)
    splits: list[str] = field(default_factory=lambda: ["test_2016_flickr"])
    #: tasks evaluated (Multi30k: translation, description; folder: its task name)
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    top_k: int = 100  # candidates retrieved per query
    bins: int = 15  # equal-width/equal-mass bins of the binned calibration errors
    bootstrap: int = 1000  # bootstrap resamples of queries for every interval
    temperature: float = 1.0  # listwise softmax temperature for raw scores
    backend: str = "exact"  # exact | faiss
    system: str = ""  # name of the evaluated system in tables; "" = from the document model or baseline
    documents: str | None = None  # document encoder: model name/path or a distill run folder; None = models.student
    baseline: str | None = None  # a registered document baseline (documents transformed, then the teacher encodes)
    params: dict[str, Any] = field(default_factory=dict)  # baseline parameters
    calibrator: str | None = None  # a fitted calibrator JSON (clir-calib calibrate) applied to the scores
    pointwise_depth: int = 10  # pointwise view: the top-N (query, document) pairs per query
    sigmoid_scale: float = 1.0  # pointwise view: P(relevant) = sigmoid(scale * score + bias)
    sigmoid_bias: float = 0.0  # pointwise view: the bias of that sigmoid
    index_dir: str = "runs/index"  # embedding cache shared by index and evaluate
    permutations: int = 1000  # paired randomization test rounds (comparison tables)
    alpha: float = 0.05  # significance level marked in comparison tables
    max_images: int | None = None  # quick runs: only the first N images of each split (queries and documents)
    diagrams: str = "all"  # reliability diagrams per entry: all | equal_width | none


@dataclass
class CalibrateConfig:
    """Which calibrators to fit where, and where to apply them unchanged."""

    calibrators: list[str] = field(  # registered calibrators fitted (clir-calib plugins)
        default_factory=lambda: ["identity", "temperature", "platt", "isotonic", "histogram", "beta"]
    )
    fit_lang: str = "de"  # the language they are fitted on (the seen one)
    fit_split: str = "val"  # the evaluated split they are fitted on
    #: languages they are applied to unchanged
    target_langs: list[str] = field(default_factory=lambda: list(LANGUAGES))
    #: splits they are applied to
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

    name: str = "none"  # the system's name in tables and stage folders
    losses: list[LossSpec] = field(default_factory=list)  # empty: the student is the base model
    baseline: str | None = None  # a registered document-side baseline, e.g. "nmt"
    params: dict[str, Any] = field(default_factory=dict)  # baseline parameters
    queries: str = "teacher"  # who encodes the English queries: teacher | student (e.g. none with an English teacher)
    seeds: list[int] = field(default_factory=list)  # distilled methods: their own seeds ([]: the study's seeds)


@dataclass
class ExperimentConfig:
    """A whole study; every command reads the sections it needs."""

    name: str = "experiment"  # the study's name (report title)
    seed: int = 13  # seed of bootstrap, permutation tests and single-seed training
    seeds: list[int] = field(default_factory=list)  # `clir-calib run`: one distillation per seed; []: [seed]
    device: str = "auto"  # auto | cpu | cuda
    output_dir: str = "runs/experiment"  # where a study's stages and report go
    data: DataConfig = field(default_factory=DataConfig)  # the data section
    models: ModelsConfig = field(default_factory=ModelsConfig)  # the models section
    distill: DistillConfig = field(default_factory=DistillConfig)  # the distill section
    methods: list[MethodConfig] = field(  # the systems a study compares
        default_factory=lambda: [
            MethodConfig("none"),
            MethodConfig("mse", [LossSpec("mse")]),
            MethodConfig("ot", [LossSpec("ot")]),
        ]
    )
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)  # the evaluate section
    calibrate: CalibrateConfig = field(default_factory=CalibrateConfig)  # the calibrate section


def known_first(known: tuple[str, ...], value: str) -> tuple[int, str]:
    """Sort key: the values in ``known`` in their order (Multi30k's languages, splits, tasks), then others by name."""
    return (known.index(value), "") if value in known else (len(known), value)


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
    for candidate in (Path("../shared/data/multi30k"), Path(__file__).resolve().parents[3] / "shared/data/multi30k"):
        if candidate.is_dir():
            return candidate
    return None
