"""Registers the built-in embedding maps through the same hook third-party baselines use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl


@hookimpl
def register_baselines(register: Callable[[type[Any]], None]) -> None:
    from clir_calib.maps.gaussian_ot import GaussianOTMap
    from clir_calib.maps.mean_shift import MeanShiftMap

    register(MeanShiftMap)
    register(GaussianOTMap)
