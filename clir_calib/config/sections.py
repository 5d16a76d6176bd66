"""The experiment configuration's sections: one dataclass per section, the defaults, and name checks.

Every field is a :func:`clir_calib.params.setting`: a :class:`~clir_calib.params.Param` with its default, help
and allowed values, which :mod:`clir_calib.config.loading` checks when a config is read (and the commands check
again, for configs built in code) and :mod:`clir_calib.config.reference` turns into ``docs/config.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clir_calib.params import setting

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
#: the choices of config fields that code elsewhere dispatches on
POOLINGS: tuple[str, ...] = ("mean", "cls")
BACKENDS: tuple[str, ...] = ("exact", "faiss")
MIXED_PRECISION: tuple[str, ...] = ("auto", "no", "bf16", "fp16")
SELECT: tuple[str, ...] = ("best", "last")  # distill.select: which weights a run ends with
TRACKERS: tuple[str, ...] = ("tensorboard", "wandb", "mlflow")  # each the name of its package and pip extra
QUERY_ENCODERS: tuple[str, ...] = ("teacher", "student")
EVALUATE_DIAGRAMS: tuple[str, ...] = ("all", "equal_width", "none")
BOUNDS: tuple[str, ...] = ("oracle", "fewshot")  # calibrate.bounds: they use target labels
ORACLE_BOUND, FEWSHOT_BOUND = BOUNDS
#: a method's name: it becomes part of stage folder names
METHOD_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}"
DEVICE = r"auto|cpu|cuda(:[0-9]+)?"


LANGUAGE: dict[str, Any] = {"pattern": LANGUAGE_CODE.pattern, "pattern_help": "a lower-case language code (de, fr, cs)"}
PART: dict[str, Any] = {"pattern": PART_NAME.pattern, "pattern_help": "a name of letters, digits and _ . -"}


@dataclass
class DataConfig:
    """Which dataset, where it comes from and where the prepared data goes."""

    dataset: str = setting("multi30k", help="a registered dataset: multi30k | folder (BEIR/TREC on disk) | a plugin's")
    params: dict[str, Any] = setting(factory=dict, help="dataset parameters (clir-calib plugins lists them)")
    source: str | None = setting(None, help="a Multi30k folder; None: $CLIR_CALIB_MULTI30K, then ../shared/data/multi30k",
                                role="input")
    url: str | None = setting(None, help="base URL of the official raw files (used when source is not given)")
    checksums: str | None = setting(
        None, help="JSON {\"files\": {path: sha256}} pinning the --url files, checked on first download too", role="input")
    prepared: str = setting("runs/data/multi30k", help="where prepare writes and every later command reads",
                            role="input")
    langs: list[str] = setting(factory=lambda: list(LANGUAGES),
                               help="document languages to prepare (English is the query language)", **LANGUAGE)
    splits: list[str] = setting(factory=lambda: list(SPLITS),
                                help="splits to prepare (Multi30k: any found in the source, e.g. test_2018_flickr)", **PART)


@dataclass
class EncoderConfig:
    """One encoder: a hub name or local path plus how texts become vectors."""

    name: str = setting(E5_SMALL, help="hub name or local folder (offline fallbacks: clir-calib models)",
                         role="input")
    pooling: str = setting("mean", help="how token states become one vector", choices=POOLINGS)
    normalize: bool = setting(True, help="L2-normalise embeddings (cosine scores)")
    max_length: int = setting(128, help="tokens kept per text", at_least=2, at_most=8192)
    query_prefix: str | None = setting(None, help="None: chosen from the model name (E5: \"query: \")")
    passage_prefix: str | None = setting(None, help="None: chosen from the model name (E5: \"passage: \")")
    batch_size: int = setting(128, help="texts per encoding batch", at_least=1, at_most=65536)


@dataclass
class ModelsConfig:
    """The frozen English teacher and the multilingual student it is distilled into."""

    teacher: EncoderConfig = setting(
        factory=EncoderConfig, help="encodes English: the queries, and the English side of the bitext in distill")
    student: EncoderConfig = setting(factory=EncoderConfig, help="the multilingual model distilled (and its base, for `none`)")


@dataclass
class LossSpec:
    """One term of the alignment objective: a registered loss, its weight and parameters."""

    name: str = setting("ot", help="a registered alignment loss (clir-calib plugins)")
    weight: float = setting(1.0, help="its weight in the sum", above=0)
    params: dict[str, Any] = setting(factory=dict, help="its declared parameters")


@dataclass
class DistillConfig:
    """Training of the student on (en, xx) bitext."""

    lang: str = setting("de", help="the bitext language (the seen language)", **LANGUAGE)
    losses: list[LossSpec] = setting(factory=lambda: [LossSpec("ot")], help="the alignment objective: a weighted sum of losses")
    lr: float = setting(2e-5, help="peak AdamW learning rate", above=0)
    weight_decay: float = setting(0.01, help="AdamW weight decay (0: off)", at_least=0)
    epochs: int = setting(1, help="passes over the training pairs", at_least=1, at_most=10_000)
    batch_size: int = setting(32, help="pairs per micro-batch", at_least=1, at_most=65536)
    grad_accum: int = setting(1, help="micro-batches per optimizer step", at_least=1, at_most=65536)
    warmup_ratio: float = setting(0.1, help="share of steps with linear warm-up (then linear decay)", at_least=0, at_most=1)
    max_grad_norm: float = setting(1.0, help="gradient clipping norm (0: off)", at_least=0)
    max_pairs: int | list[int] | None = setting(
        2000, help="training pairs (None: all; the study: 2,000 of Multi30k's 29,000, where val accuracy has saturated); "
        "a list: `clir-calib run` trains one run per size (data-size curve)", at_least=1, at_most=10**9)
    freeze_embeddings: bool = setting(True, help="keep the student's word embeddings fixed")
    eval_every: int = setting(20, help="steps between val accuracy checks (candidates for select: best)", at_least=1,
                            at_most=10**9)
    save_every: int = setting(20, help="steps between checkpoints (resume)", at_least=1, at_most=10**9)
    val_pairs: int | None = setting(None, help="val pairs for the accuracy check (None: all)", at_least=1,
                                 at_most=10**9)
    mixed_precision: str = setting("auto", help="auto: bf16 on a CUDA GPU that has it", choices=MIXED_PRECISION)
    projection: bool = setting(False, help="learn a linear map when teacher and student widths differ")
    select: str = setting(
        "best", help="best: restore the step of the last val-accuracy improvement (seen language; more than min_delta, "
        "so the highest when min_delta is 0); last: the final step",
        choices=SELECT)
    patience: int | None = setting(
        None, help="early stopping (select: best): end the run after this many val checks without an improvement of "
        "more than min_delta over the best so far; None: off", at_least=1, at_most=10**6, new=True)
    min_delta: float = setting(0.0, help="a val-accuracy gain must exceed this to count as an improvement, for "
                               "patience and for select: best", at_least=0, at_most=1, new=True)
    max_steps: int | None = setting(None, help="end the run after this many optimizer steps if the epochs last "
                                    "longer; None: the epochs decide", at_least=1, at_most=10**9, new=True)
    train_top_layers: int | None = setting(
        None, help="train only the student's top K transformer layers (and the projection): the frozen layers below "
        "run once per sentence, without dropout, and their outputs are cached for every step and val check; "
        "None: every layer trains", at_least=1, at_most=10_000, new=True)
    teacher_cache: str | None = setting(
        None, help="folder of frozen-teacher outputs (and untrained-student validation encodings) shared by runs; "
        "None: the run's own, in its folder until it ends (a killed run's resume reuses it; `run`: OUT/teacher-cache)",
        role="input")
    log_with: str | None = setting(None, help="also send the training log to that tracker", choices=TRACKERS)


@dataclass
class EvaluateConfig:
    """Retrieval and calibration measurement."""

    langs: list[str] = setting(factory=list, help="document languages evaluated; []: every one the prepared data has",
                               **LANGUAGE)
    splits: list[str] = setting(factory=list, help="splits evaluated; []: every split the prepared data has tasks on",
                                **PART)
    tasks: list[str] = setting(
        factory=list, help="tasks evaluated (Multi30k: translation, description; folder: its task name); []: every one",
        **PART)
    top_k: int = setting(100, help="candidates retrieved per query", at_least=1, at_most=100_000)
    bins: int = setting(15, help="equal-width/equal-mass bins of the binned calibration errors", at_least=1,
                        at_most=10_000)
    bootstrap: int = setting(1000, help="bootstrap resamples of queries for every interval (0: none)", at_least=0,
                             at_most=100_000)
    temperature: float | None = setting(
        None, help="listwise softmax temperature of the raw view; None: the query encoder's training temperature "
        "(E5: 0.01; a sentence-transformers card's MultipleNegativesRankingLoss scale s: 1/s), else 0.05",
        above=0)
    backend: str = setting("exact", help="exact search, or FAISS (the faiss extra)", choices=BACKENDS)
    system: str = setting("", help="name of the evaluated system in tables; \"\" = from the document model or baseline")
    documents: str | None = setting(
        None, help="document encoder: model name/path or a distill run folder; None = models.student", role="input")
    baseline: str | None = setting(
        None, help="a registered document baseline (documents transformed, then the teacher encodes)")
    params: dict[str, Any] = setting(factory=dict, help="baseline parameters")
    calibrator: str | None = setting(None, help="a fitted calibrator JSON (clir-calib calibrate) applied to the scores",
                                    role="input")
    pointwise_depth: int = setting(10, help="pointwise view: the top-N (query, document) pairs per query", at_least=1,
                               at_most=100_000)
    sigmoid_scale: float = setting(1.0, help="pointwise view: P(relevant) = sigmoid(scale * score + bias)")
    sigmoid_bias: float = setting(0.0, help="pointwise view: the bias of that sigmoid")
    index_dir: str = setting("runs/index", help="embedding cache shared by index and evaluate", role="input")
    permutations: int = setting(1000, help="paired randomization test rounds (comparison tables)", at_least=1,
                                at_most=100_000)
    alpha: float = setting(0.05, help="significance level marked in comparison tables", above=0, below=1)
    max_images: int | None = setting(
        None, help="quick runs: only the first N images of each split (queries and documents)", at_least=1,
        at_most=10**9)
    diagrams: str = setting("equal_width", help="reliability diagrams per entry (all: equal-mass ones too)",
                            choices=EVALUATE_DIAGRAMS)


@dataclass
class CalibrateConfig:
    """Which calibrators to fit where, and where to apply them unchanged."""

    calibrators: list[str] = setting(
        factory=lambda: ["identity", "temperature", "platt", "isotonic", "histogram", "beta"],
        help="registered calibrators fitted (clir-calib plugins)")
    fit_lang: str = setting("de", help="the language they are fitted on (the seen one)", **LANGUAGE)
    fit_split: str = setting("val", help="the evaluated split they are fitted on", **PART)
    target_langs: list[str] = setting(
        factory=list, help="languages they are applied to unchanged; []: every language the evaluate folder has",
        **LANGUAGE)
    target_splits: list[str] = setting(
        factory=list, help="splits they are applied to; []: every evaluated split but the fit split", **PART)
    score_fit_split: bool = setting(
        False, help="allow a target split equal to the fit split (scores a calibrator on its own training data)")
    min_fit_queries: int = setting(
        50, help="fewer labelled fit queries than this: a warning in the results and the report", at_least=1,
        at_most=10**9)
    tasks: list[str] | None = setting(None, help="None: every task whose fit set the evaluate folder holds", **PART)
    params: dict[str, dict[str, Any]] = setting(factory=dict, help="calibrator name -> parameters")
    diagrams: bool = setting(False, help="reliability diagrams before/after each calibrator (transfer-gap plots always)")
    adapters: list[str] = setting(factory=lambda: ["none", "quantile", "standardize", "mixture"],
                                  help="label-free transfer adapters ([]: none)")
    adapt_tasks: list[str] | None = setting(
        None, help="tasks the adapters and bounds run on; None: every calibrated task", **PART)
    adapter_params: dict[str, dict[str, Any]] = setting(factory=dict, help="adapter name -> parameters")
    bounds: list[str] = setting(factory=lambda: ["oracle", "fewshot"], help="bounds that use target labels, on purpose",
                                choices=BOUNDS)
    fewshot_sizes: list[int] = setting(factory=lambda: [10, 50, 200], help="labelled target val queries", at_least=1,
                                      at_most=10**9)
    fewshot_draws: int = setting(20, help="random draws per few-shot size", at_least=1, at_most=100_000)
    bootstrap: int = setting(200, help="resamples for the ECE intervals of adaptation rows (0: none)", at_least=0,
                             at_most=100_000)


@dataclass
class MethodConfig:
    """One system of the study: ``none`` (no distillation), a loss combination, or a baseline."""

    name: str = setting("none", help="the system's name in tables and stage folders", pattern=METHOD_NAME,
                        pattern_help="a name of letters, digits and _ . + -")
    losses: list[LossSpec] = setting(factory=list, help="empty: the student is the base model")
    baseline: str | None = setting(None, help="a registered document-side baseline, e.g. \"nmt\"")
    params: dict[str, Any] = setting(factory=dict, help="baseline parameters")
    queries: str = setting("teacher", help="who encodes the English queries (student: e.g. none with an English teacher)",
                           choices=QUERY_ENCODERS)
    seeds: list[int] = setting(factory=list, help="distilled methods: their own seeds ([]: the study's seeds)",
                              at_least=0, at_most=2**32 - 1)


VIEWS: tuple[str, ...] = ("listwise", "pointwise")


@dataclass
class ReportConfig:
    """What the study report compares: every comparison comes from here and from the data, never from names in code."""

    reference: str = setting("none", help="the reference system of every table and difference (when the study has "
                             "no such system: the first one)", pattern=METHOD_NAME,
                             pattern_help="a method name")
    pairs: list[list[str]] = setting(
        factory=list, help="more differences A − B to report, as [A, B] pairs; []: every pair of distilled methods, in "
        "config order (each method − reference is always reported)")
    headline_view: str = setting("listwise", help="the calibration view of the headline table", choices=VIEWS)
    headline_calibrators: dict[str, str] = setting(
        factory=lambda: {"listwise": "temperature", "pointwise": "platt"},
        help="per view, the calibrator of the answer figure and the opening sentences")
    min_seeds: int = setting(3, help="fewer seeds per distilled method: the report opens with a thin-evidence banner",
                             at_least=1, at_most=10_000)


def _default_methods() -> list[MethodConfig]:
    return [MethodConfig("none"), MethodConfig("mse", [LossSpec("mse")]), MethodConfig("ot", [LossSpec("ot")])]


@dataclass
class ExperimentConfig:
    """A whole study; every command reads the sections it needs."""

    name: str = setting("experiment", help="the study's name (report title)")
    seed: int = setting(13, help="seed of bootstrap, permutation tests and single-seed training", at_least=0,
                        at_most=2**32 - 1)
    seeds: list[int] = setting(factory=lambda: [13, 14, 15],
                               help="`clir-calib run`: one distillation per seed; []: [seed]", at_least=0, at_most=2**32 - 1)
    device: str = setting("auto", help="auto: CUDA when present", pattern=DEVICE, pattern_help="auto, cpu, cuda or cuda:N")
    output_dir: str = setting("runs/experiment", help="where a study's stages and report go", role="output")
    data: DataConfig = setting(factory=DataConfig, help="the data section")
    models: ModelsConfig = setting(factory=ModelsConfig, help="the models section")
    distill: DistillConfig = setting(factory=DistillConfig, help="the distill section")
    methods: list[MethodConfig] = setting(factory=_default_methods, help="the systems a study compares")
    evaluate: EvaluateConfig = setting(factory=EvaluateConfig, help="the evaluate section")
    calibrate: CalibrateConfig = setting(factory=CalibrateConfig, help="the calibrate section")
    report: ReportConfig = setting(factory=ReportConfig, help="the report section")
    executor: str = setting("local", help="who runs the study's stages: local (in order, in this process), processes "
                            "(worker processes of this machine), ray, or a plugin's (clir-calib plugins)", new=True)
    executor_params: dict[str, Any] = setting(factory=dict, help="the executor's parameters, e.g. {address: auto} for "
                                              "ray", new=True)
