"""Fitted calibrators to and from their JSON files, and fitting one on a scored run.

Kept apart from :mod:`clir_calib.calibrators.base` (the contract) because reading a file means looking its kind
up in the plugin registry: the contract itself imports no registry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from clir_calib.calibrators.base import FILE_FORMAT, Calibrator
from clir_calib.errors import DataError, UnknownPluginError
from clir_calib.stored import read_json


def load_calibrator(path: str | os.PathLike[str], expected_kind: str | None = None) -> Any:
    """Read a fitted calibrator file (plain or with its transfer adapter); errors are one line."""
    from clir_calib.plugins import CALIBRATORS

    file = Path(path)
    if not file.is_file():
        raise DataError(f"calibrator file {file} not found; write one with 'clir-calib calibrate'")
    data = read_json(file, "pass a calibrators/*.json file written by 'clir-calib calibrate'")
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
        raise DataError(f"{file} is not a calibrator file (no format {FILE_FORMAT!r}); pass a calibrators/*.json file")
    kind = data.get("kind")
    if expected_kind is not None and kind != expected_kind:
        raise DataError(f"{file} holds a {kind!r} calibrator, expected {expected_kind!r}")
    try:
        cls = CALIBRATORS.get(str(kind))
    except UnknownPluginError as error:
        raise DataError(f"{file}: {error}; install the plugin that provides it") from None
    calibrator = cls.from_dict(data, source=str(file))
    if "adapter" not in data:
        return calibrator
    from clir_calib.adapters.base import AdaptedCalibrator
    from clir_calib.plugins import TRANSFER_ADAPTERS

    spec = data["adapter"]
    try:
        adapter_cls = TRANSFER_ADAPTERS.get(str(spec.get("kind") if isinstance(spec, dict) else spec))
    except UnknownPluginError as error:
        raise DataError(f"{file}: {error}; install the plugin that provides it") from None
    adapter = adapter_cls.from_dict(spec if isinstance(spec, dict) else {}, source=str(file))
    return AdaptedCalibrator(calibrator, adapter, dict(data.get("adapted_for") or {}))


def fit_calibrator(calibrator: Calibrator, run: Any, depth: int, fitted_on: dict[str, Any]) -> Calibrator:
    """Fit on the pairs the calibrator will be judged on (all candidates when listwise)."""
    if calibrator.model_view == "listwise":
        scores, labels, groups = run.flat()
        return calibrator.fit(scores, labels, groups, fitted_on=fitted_on)
    d = min(depth, run.depth)
    return calibrator.fit(run.scores[:, :d].reshape(-1), run.labels[:, :d].reshape(-1), fitted_on=fitted_on)


def refused_fit(calibrator: Calibrator, run: Any, depth: int, fitted_on: dict[str, Any]) -> str | None:
    """:func:`fit_calibrator`, or why its data was refused (too few labelled queries, ties, an inverted fit): a
    study or ``calibrate`` records the reason for that calibrator and goes on with the others."""
    try:
        fit_calibrator(calibrator, run, depth, fitted_on)
    except DataError as refused:
        return str(refused)
    return None
