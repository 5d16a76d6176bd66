"""clir-calib: calibration of cross-lingual retrieval scores after OT distillation."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clir_calib.hookspecs import hookimpl


def __getattr__(name: str) -> Any:
    """``hookimpl`` and ``__version__`` on first use: importing the package then imports nothing, so the console
    script (:mod:`clir_calib.launch`) reaches its signal handling at once."""
    if name == "hookimpl":
        from clir_calib.hookspecs import hookimpl

        return hookimpl
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clir-calib")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"


__all__ = ["__version__", "hookimpl"]
