"""Registers the built-in calibrators through the same hook third-party plugins use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl


@hookimpl
def register_calibrators(register: Callable[[type[Any]], None]) -> None:
    from clir_calib.calibrators.listwise import IdentityCalibrator, TemperatureCalibrator
    from clir_calib.calibrators.logistic import BetaCalibrator, PlattCalibrator
    from clir_calib.calibrators.nonparametric import HistogramCalibrator, IsotonicCalibrator

    for calibrator in (
        IdentityCalibrator,
        TemperatureCalibrator,
        PlattCalibrator,
        IsotonicCalibrator,
        HistogramCalibrator,
        BetaCalibrator,
    ):
        register(calibrator)
