"""The one progress bar of the library and its plugins: rich, on stderr, and nothing when disabled.

Library functions take ``progress: bool`` and wrap long loops in :func:`progress_bar`; stdout stays
for the tables and data a command prints, so ``clir-calib ... > table.txt`` keeps only those.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

Advance = Callable[..., None]


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, description: str, done: int = 0, transient: bool = True,
                 fields: dict[str, str] | None = None) -> Iterator[Advance]:
    """Yield ``advance(n=1, **values)``; a no-op when ``enabled`` is false.

    ``fields`` maps a value's name to its rich column format, e.g.
    ``{"loss": "loss {task.fields[loss]:.4f}"}``; ``advance(loss=...)`` updates it with each step.
    """
    if not enabled:
        yield lambda n=1, **values: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    extra = dict(fields or {})
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(fmt) for fmt in extra.values()]
    columns.append(TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=transient) as bar:
        start: dict[str, Any] = {name: float("nan") for name in extra}
        task = bar.add_task(description, total=total, completed=done, **start)

        def advance(n: int = 1, **values: Any) -> None:
            bar.update(task, advance=n, **values)

        yield advance
