"""An optional rich progress bar for training: step count, loss, pairs/s and ETA."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any


class TrainingProgress:
    """Context manager; ``advance(loss, pairs)`` after each optimizer step. Silent when disabled."""

    def __init__(self, enabled: bool, total_steps: int, done_steps: int = 0) -> None:
        self.enabled = enabled
        self.total = total_steps
        self.done = done_steps
        self.pairs = 0
        self.started = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> TrainingProgress:
        self.started = time.perf_counter()
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("distill"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[rate]:.1f} pairs/s"),
                TimeRemainingColumn(), transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("distill", total=self.total, completed=self.done, loss=float("nan"),
                                            rate=0.0)
        return self

    @property
    def pairs_per_second(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.pairs / elapsed if elapsed > 0 else 0.0

    def advance(self, loss: float, pairs: int) -> None:
        self.done += 1
        self.pairs += pairs
        if self._bar is not None:
            self._bar.update(self._task, advance=1, loss=loss, rate=self.pairs_per_second)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, error, trace)
