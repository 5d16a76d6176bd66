"""Module-level calls for tests/test_shared_work.py: a helper process loads them by name."""

from __future__ import annotations

import os
import time
from pathlib import Path

from clir_calib.errors import DataError


def square_and_where(item: tuple[int, str]) -> tuple[int, int]:
    """``item``'s square and the process that computed it; a helper also leaves a file saying it answered."""
    number, marker = item
    time.sleep(0.02)  # long enough for the calling process to take a share after the helper's first answer
    if os.environ.get("CLIR_CALIB_TEST_MAIN_PID") != str(os.getpid()):
        Path(marker).touch()
    return number * number, os.getpid()


def fail_on_last(item: tuple[int, int]) -> int:
    number, last = item
    if number == last:
        raise DataError(f"item {number} is refused")
    return number


def die_on_last(item: tuple[int, int]) -> int:
    number, last = item
    if number == last and os.environ.get("CLIR_CALIB_TEST_MAIN_PID") != str(os.getpid()):
        os._exit(3)
    return number


def wait_for(path: Path, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"no helper answered within {seconds} s")
        time.sleep(0.05)


def nap_and_tell(item: tuple[int, str]) -> int:
    """Write this process's id into ``marker`` (a helper), then sleep a little."""
    number, marker = item
    if os.environ.get("CLIR_CALIB_TEST_MAIN_PID") != str(os.getpid()):
        Path(marker).write_text(str(os.getpid()))
    time.sleep(0.3)
    return number


def nested(item: int) -> list[int]:
    """A shared call that shares work itself (run here, where the helpers are busy: never a deadlock)."""
    from clir_calib.shared_work import share_work

    return share_work(abs, [-item, item])
