"""clir-calib: calibration of cross-lingual retrieval scores after OT distillation."""

from importlib.metadata import PackageNotFoundError, version

from clir_calib.hookspecs import hookimpl

try:
    __version__ = version("clir-calib")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "hookimpl"]
