"""The notebook API: keyword-argument functions over the same library calls the CLI makes (the CLI calls these).

Each function takes the settings a command takes as keywords (``langs=["de", "fr"]``), or a whole config
(``config=`` an :class:`ExperimentConfig` or a YAML path) with dotted ``overrides``; it writes what the command
writes and returns a typed result with the paths it wrote and ``.to_pandas()``. Nothing is printed; progress bars
appear only with ``progress=True``.

    from clir_calib import api
    ev = api.evaluate("intfloat/multilingual-e5-small", data="runs/data/multi30k", langs=["de", "fr", "cs"],
                      out="runs/eval/base")
    ev.to_pandas().query("metric == 'AP'")
    cal = api.calibrate(ev.path, calibrators=["temperature", "platt"], adapters=["none", "atc"])
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clir_calib.config import ExperimentConfig, load_config

PathLike = str | Path


def configure(config: ExperimentConfig | PathLike | None = None, overrides: Mapping[str, Any] | None = None,
              **settings: Any) -> ExperimentConfig:
    """A config from ``config`` (object or YAML), then ``settings`` (dotted keys; None means unset), then
    ``overrides`` (dotted keys), validated as the CLI validates ``--set``."""
    import yaml

    dotted = [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
              for key, value in [*settings.items(), *(overrides or {}).items()] if value is not None]
    if isinstance(config, ExperimentConfig):
        if not dotted:
            return config
        import tempfile

        from clir_calib.config import save_config

        with tempfile.TemporaryDirectory() as folder:
            save_config(config, Path(folder))
            return load_config(Path(folder) / "config.yaml", dotted)
    return load_config(None if config is None else Path(config), dotted)


def _paths(values: Sequence[PathLike] | PathLike | None) -> list[str] | None:
    if values is None:
        return None
    return [str(v) for v in ([values] if isinstance(values, str | Path) else values)]


@dataclass
class PrepareResult:
    """A prepared folder: ``path`` and ``summary`` (a :class:`~clir_calib.data.prepare.PrepareSummary`)."""

    path: Path
    summary: Any

    @property
    def paths(self) -> list[Path]:
        return sorted(self.path.rglob("*.json"))

    def to_pandas(self) -> Any:
        """One row per retrieval task (task, lang, split, queries, documents)."""
        import dataclasses

        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(count) for count in self.summary.tasks])


def prepare(*, source: PathLike | None = None, out: PathLike | None = None, langs: Sequence[str] | None = None,
            splits: Sequence[str] | None = None, config: ExperimentConfig | PathLike | None = None,
            overrides: Mapping[str, Any] | None = None, overwrite: bool = False) -> PrepareResult:
    """Bitext and retrieval tasks from a Multi30k folder (or a registered dataset), as ``clir-calib prepare``."""
    from clir_calib.data.prepare import prepare_data

    cfg = configure(config, overrides, **{"data.source": None if source is None else str(source),
                                          "data.prepared": None if out is None else str(out), "data.langs": langs,
                                          "data.splits": splits})
    summary = prepare_data(cfg.data.prepared, overwrite=overwrite, config=cfg)
    return PrepareResult(Path(summary.out), summary)


@dataclass
class DistillRun:
    """A distill run folder: ``path`` and ``result`` (a :class:`~clir_calib.distill.trainer.DistillResult`)."""

    path: Path
    result: Any

    @property
    def paths(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.is_file())

    def to_pandas(self) -> Any:
        """The training log (``log.jsonl``): one row per evaluation and logging step."""
        import pandas as pd

        return pd.read_json(self.path / "log.jsonl", lines=True)


def distill(*, lang: str | None = None, losses: Sequence[str | Mapping[str, Any]] | None = None,
            teacher: str | None = None, student: str | None = None, data: PathLike | None = None,
            out: PathLike | None = None, max_pairs: int | None = None, seed: int | None = None,
            config: ExperimentConfig | PathLike | None = None, overrides: Mapping[str, Any] | None = None,
            resume: bool = False, progress: bool = False) -> DistillRun:
    """Distil ``teacher`` into ``student`` on ``lang`` bitext with ``losses`` (names, or ``{"name", "weight",
    "params"}`` dicts; a sum when several), as ``clir-calib distill`` does."""
    from clir_calib.distill import distill as run_distill
    from clir_calib.distill.setup import default_run_folder

    specs = None if losses is None else [{"name": x} if isinstance(x, str) else dict(x) for x in losses]
    cfg = configure(config, overrides, **{
        "distill.lang": lang, "distill.losses": specs, "models.teacher.name": teacher,
        "models.student.name": student, "data.prepared": None if data is None else str(data),
        "distill.max_pairs": max_pairs, "seed": seed})
    target = Path(out) if out is not None else default_run_folder(cfg)
    return DistillRun(target, run_distill(cfg, target, resume=resume, progress=progress))


@dataclass
class EvaluationResult:
    """An evaluate folder: ``summary`` (its ``summary.json``) and ``path``."""

    path: Path
    summary: dict[str, Any]

    @property
    def paths(self) -> list[Path]:
        return sorted(self.path.rglob("*.json"))

    def to_pandas(self) -> Any:
        """One row per (task, lang, split, group, metric): value and 95% interval; group is retrieval or a view."""
        import pandas as pd

        rows = []
        for entry in self.summary["entries"]:
            where = {"system": self.summary["system"]["name"], "task": entry["task"], "lang": entry["lang"],
                     "split": entry["split"]}
            groups = {"retrieval": entry["retrieval"], **{view: data["metrics"]
                                                          for view, data in entry["calibration"].items()}}
            for group, metrics in groups.items():
                rows += [{**where, "group": group, "metric": name, "value": m.get("value"), "low": m.get("low"),
                          "high": m.get("high")} for name, m in metrics.items()]
        return pd.DataFrame(rows)


def evaluate(model: PathLike | None = None, *, data: PathLike | None = None, langs: Sequence[str] | None = None,
             splits: Sequence[str] | None = None, tasks: Sequence[str] | None = None, teacher: str | None = None,
             baseline: str | None = None, name: str | None = None, out: PathLike | None = None,
             temperature: float | None = None, top_k: int | None = None, bootstrap: int | None = None,
             runs: PathLike | None = None, sigmoid: tuple[float, float] | None = None,
             config: ExperimentConfig | PathLike | None = None, overrides: Mapping[str, Any] | None = None,
             overwrite: bool = False, progress: bool = False) -> EvaluationResult:
    """Evaluate ``model`` (a model name or folder, or a distill run folder) as ``clir-calib evaluate`` does, or
    import another system's runs (``runs=`` a folder of ``TASK/LANG/SPLIT/run.trec`` with ``qrels.txt``)."""
    cfg = configure(config, overrides, **{
        "evaluate.documents": None if model is None else str(model), "data.prepared": None if data is None else str(data),
        "evaluate.langs": langs, "evaluate.splits": splits, "evaluate.tasks": tasks, "models.teacher.name": teacher,
        "evaluate.baseline": baseline, "evaluate.system": name, "evaluate.temperature": temperature,
        "evaluate.top_k": top_k, "evaluate.bootstrap": bootstrap})
    if runs is not None:
        from clir_calib.errors import ConfigError
        from clir_calib.evaluation.external import import_runs, runs_in_folder

        if out is None or not cfg.evaluate.system:
            raise ConfigError("importing runs needs name= and out=")
        summary = import_runs(cfg, runs_in_folder(Path(runs)), out, cfg.evaluate.system, temperature=temperature,
                              sigmoid=sigmoid, overwrite=overwrite)
        return EvaluationResult(Path(out), summary)
    from clir_calib.claims import child
    from clir_calib.evaluation.evaluate import run_evaluation
    from clir_calib.evaluation.system import system_name

    target = Path(out) if out is not None else child(Path(cfg.output_dir) / "eval", system_name(cfg))
    return EvaluationResult(target, run_evaluation(cfg, target, overwrite=overwrite, progress=progress))


@dataclass
class CalibrationResult:
    """A calibration folder: ``result`` (the :class:`~clir_calib.transfer.zero_shot.TransferResult`) and ``path``."""

    path: Path
    result: Any

    @property
    def paths(self) -> list[Path]:
        return sorted(self.path.rglob("*.json"))

    def to_pandas(self) -> Any:
        """One row per (task, calibrator, lang, split): each metric before and after."""
        import pandas as pd

        from clir_calib.transfer.outputs import flat_rows

        return pd.DataFrame(flat_rows(self.result))

    def adaptation(self) -> Any:
        """One row per (task, calibrator, lang, split, adapter or bound)."""
        import pandas as pd

        rows = [] if self.result.adaptation is None else [r.to_dict() for r in self.result.adaptation.rows]
        return pd.json_normalize(rows)


def calibrate(eval_dir: PathLike, *, calibrators: Sequence[str] | None = None, fit_lang: str | None = None,
              fit_split: str | None = None, langs: Sequence[str] | None = None, splits: Sequence[str] | None = None,
              adapters: Sequence[str] | None = None, bounds: Sequence[str] | None = None, out: PathLike | None = None,
              config: ExperimentConfig | PathLike | None = None, overrides: Mapping[str, Any] | None = None,
              diagrams: bool = False, overwrite: bool = False) -> CalibrationResult:
    """Fit calibrators on ``fit_lang``/``fit_split`` of an evaluate folder and measure them on every target, with
    label-free ``adapters`` and labelled ``bounds``, as ``clir-calib calibrate`` does."""
    from clir_calib.transfer.outputs import calibrate_into

    folder = Path(eval_dir)
    saved = folder / "config.yaml"
    cfg = configure(config if config is not None or not saved.is_file() else saved, overrides, **{
        "calibrate.calibrators": calibrators, "calibrate.fit_lang": fit_lang, "calibrate.fit_split": fit_split,
        "calibrate.target_langs": langs, "calibrate.target_splits": splits, "calibrate.adapters": adapters,
        "calibrate.bounds": bounds})
    result, target = calibrate_into(cfg, folder, None if out is None else Path(out), diagrams=diagrams,
                                    overwrite=overwrite)
    return CalibrationResult(target, result)


@dataclass
class ReportResult:
    """A report folder: ``path``, its Markdown and HTML, and the ``latest`` link next to it."""

    path: Path
    report_md: Path
    report_html: Path
    latest: Path | None = None

    @property
    def paths(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.is_file())

    def to_pandas(self) -> dict[str, Any]:
        """Every table and record list of the report's ``tables.json`` (:func:`load_tables`)."""
        return load_tables(self.path / "tables.json")


def report(folders: Sequence[PathLike], *, out: PathLike = "runs/report", calibrations: Sequence[PathLike] | None = None,
           config: PathLike | None = None, overrides: Mapping[str, Any] | Sequence[str] | None = None,
           announce: Callable[[str], None] | None = None) -> ReportResult:
    """The study report of evaluate (and calibrate) folders, as ``clir-calib report`` writes it; ``overrides``:
    dotted keys (a mapping, or ``key=value`` strings as ``--set`` takes)."""
    from clir_calib.pipeline.folders_report import report_from_folders

    dotted = [f"{k}={json.dumps(v)}" for k, v in overrides.items()] if isinstance(overrides, Mapping) else \
        list(overrides or [])
    result = report_from_folders([Path(f) for f in folders], Path(out),
                                 None if calibrations is None else [Path(c) for c in calibrations], dotted,
                                 None if config is None else Path(config), announce=announce)
    return ReportResult(result.folder, result.report_md, result.report_html, result.latest)


def load_tables(path: PathLike) -> dict[str, Any]:
    """A report's ``tables.json`` as DataFrames: every list of records (``differences``, ``per_seed``,
    ``adaptation``, ``score_diagnostics``, ...) one frame, and each printed table under its caption."""
    import pandas as pd

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    frames: dict[str, Any] = {}
    for key, value in data.items():
        if key == "tables":
            for table in value:
                frames[table["caption"]] = pd.DataFrame(table["rows"], columns=table["headers"])
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            frames[key] = pd.json_normalize(value)
    return frames
