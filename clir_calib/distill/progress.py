"""The training progress bar: step count, loss, pairs/s and ETA (on stderr, through :mod:`clir_calib.progress`)."""

from __future__ import annotations

import contextlib
import time
from types import TracebackType
from typing import Any

from clir_calib.progress import progress_bar


class TrainingProgress:
    """Context manager; ``advance(loss, pairs)`` after each optimizer step. Silent when disabled."""

    def __init__(self, enabled: bool, total_steps: int, done_steps: int = 0) -> None:
        self.enabled = enabled
        self.total = total_steps
        self.done = done_steps
        self.pairs = 0
        self.started = time.perf_counter()
        self._stack = contextlib.ExitStack()
        self._advance: Any = None

    def __enter__(self) -> TrainingProgress:
        self.started = time.perf_counter()
        self._advance = self._stack.enter_context(progress_bar(
            self.enabled, self.total, "distill", done=self.done, transient=False,
            fields={"loss": "loss {task.fields[loss]:.4f}", "rate": "{task.fields[rate]:.1f} pairs/s"}))
        return self

    @property
    def pairs_per_second(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.pairs / elapsed if elapsed > 0 else 0.0

    def advance(self, loss: float, pairs: int) -> None:
        self.done += 1
        self.pairs += pairs
        self._advance(1, loss=loss, rate=self.pairs_per_second)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stack.__exit__(kind, error, trace)
