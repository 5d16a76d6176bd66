"""Typed experiment configuration: the sections (:mod:`.sections`) and their YAML loading (:mod:`.loading`)."""

from clir_calib.config.loading import (
    apply_overrides,
    config_hash,
    explicit_keys,
    from_dict,
    is_explicit,
    load_config,
    read_yaml,
    save_config,
    to_dict,
)
from clir_calib.config.names import check_languages, check_splits, default_multi30k_source, known_first
from clir_calib.config.sections import (
    BACKENDS,
    BOUNDS,
    DEFAULT_MULTI30K_VARIABLE,
    E5_SMALL,
    EVAL_SPLITS,
    LANGUAGE_CODE,
    LANGUAGES,
    MIXED_PRECISION,
    PART_NAME,
    POOLINGS,
    SELECT,
    SPLITS,
    TASKS,
    TRACKERS,
    CalibrateConfig,
    DataConfig,
    DistillConfig,
    EncoderConfig,
    EvaluateConfig,
    ExperimentConfig,
    LossSpec,
    MethodConfig,
    ModelsConfig,
    ReportConfig,
)

__all__ = [
    "BACKENDS", "BOUNDS", "MIXED_PRECISION", "POOLINGS", "SELECT", "TRACKERS",
    "DEFAULT_MULTI30K_VARIABLE", "E5_SMALL", "EVAL_SPLITS", "LANGUAGES", "LANGUAGE_CODE", "PART_NAME", "SPLITS",
    "TASKS", "CalibrateConfig", "DataConfig", "DistillConfig", "EncoderConfig", "EvaluateConfig",
    "ExperimentConfig", "LossSpec", "MethodConfig", "ModelsConfig", "ReportConfig", "apply_overrides", "check_languages",
    "check_splits", "config_hash", "explicit_keys", "is_explicit", "default_multi30k_source", "from_dict", "load_config", "read_yaml",
    "known_first", "save_config", "to_dict",
]
