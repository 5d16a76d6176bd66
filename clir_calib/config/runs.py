"""A distill run knows its teacher: read it from the run's saved ``config.yaml``.

A student is distilled into its teacher's embedding space, so its documents must be scored against queries
from that teacher, with the teacher's prefixes and settings. Every command that is given a run (evaluate,
index, align, a study's stages) takes the query encoder from here; an explicitly chosen teacher that
disagrees with the run is refused, naming both.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from clir_calib.config.loading import is_explicit, load_config
from clir_calib.config.sections import EncoderConfig, ExperimentConfig
from clir_calib.errors import ConfigError

#: files that mark a folder as a distill run (the settings file is written with the weights)
RUN_MARKERS = ("config.yaml", "clir_calib_encoder.json")


def is_run_folder(path: str | Path | None) -> bool:
    """A folder written by ``clir-calib distill`` (weights, settings and the resolved ``config.yaml``)."""
    if path is None:
        return False
    folder = Path(path).expanduser()
    return folder.is_dir() and all((folder / marker).is_file() for marker in RUN_MARKERS)


def run_teacher(path: str | Path) -> EncoderConfig:
    """The teacher a distill run was trained towards, as its ``config.yaml`` records it."""
    folder = Path(path).expanduser()
    try:
        return load_config(folder / "config.yaml").models.teacher
    except ConfigError as error:
        raise ConfigError(f"the run {folder} has a config.yaml that cannot be read ({error}); "
                          "restore it from the run's log or distil again") from None


def _same_model(a: str, b: str) -> bool:
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def query_encoder_config(cfg: ExperimentConfig, documents: str | None = None) -> EncoderConfig:
    """The encoder of the English queries: the run's own teacher when the documents are a distill run
    (``evaluate.documents``, or ``documents``), else ``models.teacher``.

    Teacher settings the user set explicitly (``--set models.teacher.batch_size=8``) still apply; an explicit
    teacher *name* that differs from the run's is refused with both names.
    """
    documents = documents if documents is not None else cfg.evaluate.documents
    if cfg.evaluate.baseline or not is_run_folder(documents):
        return cfg.models.teacher
    assert documents is not None
    recorded = run_teacher(documents)
    chosen = cfg.models.teacher
    if is_explicit(cfg, "models.teacher.name") and not _same_model(chosen.name, recorded.name):
        raise ConfigError(f"the run {documents} was distilled from the teacher {recorded.name!r}, but the teacher "
                          f"{chosen.name!r} was given; drop --teacher (the run's own is used) or evaluate a run "
                          f"distilled from {chosen.name!r}")
    overrides = {field.name: getattr(chosen, field.name) for field in dataclasses.fields(EncoderConfig)
                 if field.name != "name" and is_explicit(cfg, f"models.teacher.{field.name}")}
    return dataclasses.replace(recorded, **overrides)
