"""Where a study's runs put their outputs: the types shared by the study, its stages and its report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clir_calib.config import MethodConfig
from clir_calib.pipeline.stages import StageResult

#: appended to the name of a system that uses target-language bitext (not a zero-shot comparison)
TARGET_BITEXT_MARK = " ‡"


@dataclass
class MethodOutputs:
    """Where the outputs of one run of a method are (one seed and data size for a distilled method)."""

    method: MethodConfig
    seed: int | None = None  # distilled methods: the training seed (None: no randomness, run once)
    pairs: int | None = None  # distilled methods: distill.max_pairs of this run (None: all pairs)
    label: str = ""  # stage label: the method name, plus -n<pairs>-s<seed> when a study has several
    model_dir: Path | None = None  # the distilled student (None: base model or baseline)
    baseline_params: dict[str, Any] = field(default_factory=dict)
    eval_dir: Path | None = None
    calibration_dir: Path | None = None
    distill_info: dict[str, Any] = field(default_factory=dict)
    marker: str = ""  # TARGET_BITEXT_MARK when the system uses target-language bitext

    @property
    def display_name(self) -> str:
        """The method name as tables show it (with its marker)."""
        return self.method.name + self.marker


@dataclass
class StudyResult:
    root: Path
    stages: list[StageResult]
    methods: list[MethodOutputs]
    report_md: Path
    report_html: Path
    seconds: float
