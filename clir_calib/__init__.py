"""clir-calib: calibration of cross-lingual retrieval scores after OT distillation."""

from typing import Any

from clir_calib.hookspecs import hookimpl


def __getattr__(name: str) -> Any:
    """``__version__`` on first use: the metadata lookup is the slowest part of importing the package, and the
    console script should reach its signal handling at once."""
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clir-calib")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"

__all__ = ["__version__", "hookimpl"]
