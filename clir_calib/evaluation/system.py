"""What is evaluated: English queries encoded by the teacher, documents by a document encoder.

The document encoder is the configured student (``models.student``), a model name or path, or a
distill run folder (its saved settings win, and its own teacher encodes the queries: see
:func:`clir_calib.config.runs.query_encoder_config`). A *baseline* system instead rewrites the documents
with a registered :class:`~clir_calib.baselines.DocumentBaseline` and lets the teacher encode
them, so every system is scored by the same code. The raw listwise view's temperature is the query encoder's
(:mod:`clir_calib.models.temperature`) unless ``evaluate.temperature`` sets one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clir_calib.baselines import CorpusContext, DocumentBaseline
from clir_calib.config import EncoderConfig, ExperimentConfig
from clir_calib.config.runs import is_run_folder, query_encoder_config
from clir_calib.errors import DataError
from clir_calib.models.temperature import FALLBACK_TEMPERATURE, Temperature, resolve_temperature

SETTINGS_FILE = "clir_calib_encoder.json"


@dataclass
class System:
    """Loaded encoders (possibly one object twice) and an optional document baseline."""

    name: str
    query_encoder: Any
    document_encoder: Any
    baseline: DocumentBaseline | None
    description: dict[str, Any]
    temperature: Temperature = dataclasses.field(default_factory=lambda: Temperature(FALLBACK_TEMPERATURE, "default"))

    def documents_for(self, ids: list[str], texts: list[str], context: CorpusContext) -> list[str]:
        """The texts the document encoder sees: the originals, or the baseline's rewrite."""
        if self.baseline is None:
            return texts
        rewritten = self.baseline.transform_corpus(ids, texts, context)
        if len(rewritten) != len(texts) or not all(isinstance(t, str) for t in rewritten):
            raise DataError(
                f"baseline {self.baseline.name!r} returned {len(rewritten)} texts for {len(texts)} documents; "
                "a baseline must return one string per document"
            )
        return list(rewritten)


def system_name(cfg: ExperimentConfig) -> str:
    """The configured name, else the baseline, the document model's folder or hub name."""
    ev = cfg.evaluate
    if ev.system:
        return ev.system
    if ev.baseline:
        return ev.baseline
    documents = ev.documents or cfg.models.student.name
    return Path(str(documents).rstrip("/")).name or str(documents)


def document_encoder_config(cfg: ExperimentConfig) -> EncoderConfig | str:
    """An :class:`EncoderConfig` to load, or a run folder to load with its own saved settings."""
    documents = cfg.evaluate.documents
    if documents is None:
        return cfg.models.student
    if is_run_folder(documents) or (Path(documents).expanduser() / SETTINGS_FILE).is_file():
        return str(Path(documents).expanduser())
    return dataclasses.replace(cfg.models.student, name=documents)


def load_system(cfg: ExperimentConfig, device: str = "auto") -> System:
    """Load the teacher (queries), the document encoder or baseline, as ``cfg.evaluate`` says."""
    from clir_calib.models.encoder import Encoder
    from clir_calib.plugins import BASELINES

    ev = cfg.evaluate
    teacher_config = query_encoder_config(cfg)
    teacher = Encoder.load(teacher_config, device=device)
    baseline: DocumentBaseline | None = None
    if ev.baseline:
        if ev.documents:
            raise DataError("evaluate.baseline and evaluate.documents exclude each other: a baseline's documents are encoded by the teacher")
        baseline = BASELINES.get(ev.baseline)(**ev.params)
        documents: Any = teacher
        doc_source: Any = {"baseline": ev.baseline, "params": baseline.get_config_dict(), "encoder": "teacher"}
    else:
        if ev.params:
            raise DataError("evaluate.params are baseline parameters; set evaluate.baseline too or drop them")
        spec = document_encoder_config(cfg)
        if isinstance(spec, str):
            documents = Encoder.from_pretrained(spec, device=device)
        elif spec == teacher_config:
            documents = teacher
        else:
            documents = Encoder.load(spec, device=device)
        doc_source = {"encoder": str(documents.name), "settings": dataclasses.asdict(documents.settings)}
    temperature = resolve_temperature(ev.temperature, [str(teacher.name), teacher.settings.source_name],
                                      getattr(teacher, "folder", None))
    description = {
        "name": system_name(cfg),
        "queries": {"encoder": str(teacher.name), "settings": dataclasses.asdict(teacher.settings)},
        "documents": doc_source,
        "temperature": temperature.to_dict(),
    }
    return System(system_name(cfg), teacher, documents, baseline, description, temperature)
