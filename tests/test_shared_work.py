"""share_work: independent calls shared with helper processes give the loop's results, in order, and its errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from clir_calib import shared_work
from clir_calib.errors import ClirCalibError, DataError
from tests.shared_work_calls import die_on_last, fail_on_last, square_and_where, wait_for


@pytest.fixture()
def two_cores(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A budget of two cores (one helper) whatever the machine has (helpers load these tests' calls through this
    process's import path, which they are given)."""
    monkeypatch.setenv("CLIR_CALIB_TEST_MAIN_PID", str(os.getpid()))
    shared_work.stop_helpers()
    shared_work.set_core_budget(2)
    yield
    shared_work.set_core_budget(None)
    shared_work.stop_helpers()


def test_a_helper_takes_a_share_and_the_results_are_the_loops_in_order(two_cores: None, tmp_path: Path) -> None:
    marker = tmp_path / "a-helper-answered"
    items = [(n, str(marker)) for n in range(40)]
    # this process starts its share only once a helper has answered: both must have worked
    results = shared_work.share_work(square_and_where, items, first=lambda: wait_for(marker))
    assert [value for value, _ in results] == [n * n for n in range(40)]
    where = {pid for _, pid in results}
    assert os.getpid() in where and len(where) == 2
    assert results[-1][1] != os.getpid()  # the helper starts from the back of the list


def test_one_core_runs_everything_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shared_work.set_core_budget(1)
    try:
        calls: list[str] = []
        results = shared_work.share_work(square_and_where, [(n, str(tmp_path / "x")) for n in range(5)],
                                         first=lambda: calls.append("first"))
    finally:
        shared_work.set_core_budget(None)
    assert calls == ["first"] and {pid for _, pid in results} == {os.getpid()}


def test_a_helpers_error_is_raised_here(two_cores: None) -> None:
    # the helper takes the last item first; this process waits until it has failed
    with pytest.raises(DataError, match="item 9 is refused"):
        shared_work.share_work(fail_on_last, [(n, 9) for n in range(10)], first=lambda: __import__("time").sleep(0))
    assert shared_work.share_work(fail_on_last, [(n, 99) for n in range(10)]) == list(range(10))


def test_a_helper_that_dies_is_an_error_and_is_replaced(two_cores: None) -> None:
    with pytest.raises(ClirCalibError, match="helper process ended unexpectedly"):
        shared_work.share_work(die_on_last, [(n, 30) for n in range(31)])
    assert shared_work.share_work(die_on_last, [(n, 99) for n in range(31)]) == list(range(31))


def test_calls_that_cannot_travel_run_here(two_cores: None) -> None:
    def local_square(number: int) -> tuple[int, int]:  # not picklable: a local function
        return number * number, os.getpid()

    results = shared_work.share_work(local_square, list(range(6)))
    assert [v for v, _ in results] == [n * n for n in range(6)] and {p for _, p in results} == {os.getpid()}


def test_calls_a_helper_cannot_load_run_here(two_cores: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "only_here.py").write_text("import os\n\ndef cube(n):\n    return n ** 3, os.getpid()\n")
    assert shared_work.share_work(fail_on_last, [(n, 99) for n in range(4)]) == list(range(4))  # a helper starts
    monkeypatch.syspath_prepend(str(tmp_path))  # this process finds the module now; the running helper does not
    from only_here import cube  # type: ignore[import-not-found]

    results = shared_work.share_work(cube, list(range(8)))
    assert [v for v, _ in results] == [n**3 for n in range(8)] and {p for _, p in results} == {os.getpid()}
    assert shared_work.share_work(fail_on_last, [(n, 99) for n in range(4)]) == list(range(4))  # the helper serves on


KILLED = """
import os, sys
os.environ["CLIR_CALIB_TEST_MAIN_PID"] = str(os.getpid())
from clir_calib import shared_work
from tests.shared_work_calls import nap_and_tell
shared_work.set_core_budget(2)
shared_work.share_work(nap_and_tell, [(n, sys.argv[1]) for n in range(200)])
"""


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads a process's state from /proc")
def test_helpers_end_when_their_caller_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves no helper behind: a helper reads end-of-input once its caller is gone, and stops."""
    import signal
    import subprocess
    import sys
    import time

    marker = tmp_path / "helper-pid"
    repo = Path(__file__).resolve().parents[1]
    caller = subprocess.Popen([sys.executable, "-c", KILLED, str(marker)], cwd=repo)
    try:
        wait_for(marker)
        helper = int(marker.read_text())
        caller.send_signal(signal.SIGKILL)
        caller.wait(timeout=60)
        deadline = time.monotonic() + 30
        while _alive(helper) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(helper), "the helper outlived its killed caller"
    finally:
        caller.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is gone, only not yet reaped
        return handle.read().split(")")[-1].split()[0] != "Z"


def test_a_shared_call_that_shares_work_runs_it_where_it_is(two_cores: None) -> None:
    from tests.shared_work_calls import nested

    assert shared_work.share_work(nested, list(range(6)), first=lambda: shared_work.share_work(abs, [-1])) == [
        [n, n] for n in range(6)]
