"""The NMT plugin's progress bars are the core's (one helper, on stderr)."""

from __future__ import annotations

from clir_calib.progress import progress_bar

__all__ = ["progress_bar"]
