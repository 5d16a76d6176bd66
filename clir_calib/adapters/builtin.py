"""Registers the built-in transfer adapters through the same hook third-party plugins use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clir_calib.hookspecs import hookimpl


@hookimpl
def register_transfer_adapters(register: Callable[[type[Any]], None]) -> None:
    from clir_calib.adapters.atc import ATCAdapter
    from clir_calib.adapters.identity import NoAdapter
    from clir_calib.adapters.mixture import MixtureAdapter
    from clir_calib.adapters.quantile import QuantileAdapter
    from clir_calib.adapters.standardize import StandardizeAdapter

    for adapter in (NoAdapter, QuantileAdapter, StandardizeAdapter, MixtureAdapter, ATCAdapter):
        register(adapter)
