"""Independent calls shared between this process and helper processes on the machine's spare cores.

The calibrate stage is single-threaded numpy: on a two-core machine one core idles while it runs.
:func:`share_work` runs a list of independent calls here, taking them from the front, while helper
processes take them from the back; the results come back in the list's order, and each call's result is
the same wherever it ran (the calls own their random generators).

How many cores a stage may use is :func:`core_budget`: every usable core in a plain process, what an
executor gives the stage otherwise (the ``processes`` and ``ray`` executors run stages side by side and set
it with :func:`set_core_budget`). A helper is a fresh interpreter (``python -c``) that reads pickled calls
on its stdin and writes pickled results on its stdout: unlike a multiprocessing worker it never re-imports
the caller's ``__main__`` (a user's script without a ``__main__`` guard, a notebook), and unlike a fork it
shares no thread pool with this process. Helpers start on first use and are kept for the next call.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO, Any, TypeVar

from clir_calib.errors import ClirCalibError

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger(__name__)
_BUDGET: list[int | None] = [None]  # cores this process's current stage may use; None: every usable core
_HEADER = struct.Struct("<Q")  # the byte length of the pickle that follows


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_core_budget(cores: int | None) -> None:
    """The cores the stage now running in this process may use (None: every usable core)."""
    _BUDGET[0] = None if cores is None else max(1, int(cores))


def core_budget() -> int:
    budget = _BUDGET[0]
    return usable_cores() if budget is None else budget


def _send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive_bytes(stream: IO[bytes]) -> bytes:
    """The next message's bytes, or EOFError when the other side has closed."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return data


def _serve() -> None:
    """A helper's loop: run each ``(call, item)`` read from stdin and answer ``(status, value)`` on stdout: True and
    the result, False and the call's exception, None when the call cannot be loaded here (its function or classes
    live in the caller's ``__main__``, a notebook say): the caller then runs it itself."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle: it ends the helpers
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever a call prints must not corrupt the answers
    while True:
        try:
            data = _receive_bytes(requests)
        except EOFError:
            return
        try:
            call, item = pickle.loads(data)
        except Exception as error:  # noqa: BLE001 - not loadable here: the caller runs it
            _send(answers, (None, repr(error)))
            continue
        try:
            answer: tuple[bool | None, Any] = (True, call(item))
        except Exception as error:  # noqa: BLE001 - handed to the caller, who raises it
            answer = (False, error)
        try:
            _send(answers, answer)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            _send(answers, (False, ClirCalibError(f"a helper's answer cannot be sent back: {error}")))
        except OSError:  # a broken pipe: the caller is gone (killed): nobody to answer, so stop
            return


class _Helper:
    """One helper process, and the thread that passes each of its answers to :attr:`on_answer` as it comes."""

    def __init__(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self.process = subprocess.Popen(  # this process's import path: the helper loads the same modules
            [sys.executable, "-c", "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
             "from clir_calib.shared_work import _serve; _serve()", json.dumps(sys.path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.on_answer: Callable[[_Helper, bool | None, Any], None] | None = None  # set by the call being served
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            try:
                ok, value = pickle.loads(_receive_bytes(self.process.stdout))
            except EOFError:
                ok, value = False, ClirCalibError(
                    f"a helper process ended unexpectedly (exit code {self.process.wait()}); run again")
            handler = self.on_answer
            if handler is not None:
                handler(self, ok, value)
            if ok is False and self.process.poll() is not None:
                return

    def submit(self, call: Callable[[Any], Any], item: Any) -> None:
        assert self.process.stdin is not None
        _send(self.process.stdin, (call, item))

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the helper's loop ends at end of input
        self.process.wait()


_HELPERS: list[_Helper] = []
_ONE_CALLER = threading.Lock()
_SHARING = threading.local()  # this thread is sharing work: a call it makes meanwhile runs here, never waits on itself


def _helpers(count: int) -> list[_Helper]:
    _HELPERS[:] = [helper for helper in _HELPERS if helper.process.poll() is None]
    while len(_HELPERS) < count:
        _HELPERS.append(_Helper())
    return _HELPERS[:count]


def stop_helpers() -> None:
    """End the helper processes (they start again when next needed)."""
    while _HELPERS:
        _HELPERS.pop().stop()


atexit.register(stop_helpers)


def share_work(call: Callable[[Item], Result], items: Sequence[Item],
               first: Callable[[], Any] | None = None) -> list[Result]:
    """``[call(item) for item in items]``, shared with ``core_budget() - 1`` helper processes.

    ``call`` must be a module-level function and the items and results picklable. ``first`` runs here before
    this process takes any item, while the helpers start and work (they import what ``call`` needs, about a
    second): work that has to be done here anyway. A call's exception is raised here, as it would be by the
    loop."""
    count = min(core_budget() - 1, len(items))
    if count < 1 or getattr(_SHARING, "active", False):  # one core, or a call made by a shared call: here
        return _here(call, items, first)
    with _ONE_CALLER:  # the helpers serve one call at a time
        try:
            helpers = _helpers(count)
        except OSError as error:  # no interpreter can be started here (an embedded Python): the same work, here
            log.warning("no helper process could be started (%s); working in this process alone", error)
            return _here(call, items, first)
        _SHARING.active = True
        try:
            return _Sharing(call, items, helpers).run(first)
        finally:
            _SHARING.active = False


def _here(call: Callable[[Item], Result], items: Sequence[Item], first: Callable[[], Any] | None) -> list[Result]:
    if first is not None:
        first()
    return [call(item) for item in items]


class _Sharing:
    """One :func:`share_work` call: this thread takes items from the front; each helper's reader thread hands
    its helper the next item from the back as soon as it answers, so a helper never waits for this thread."""

    def __init__(self, call: Callable[[Any], Any], items: Sequence[Any], helpers: list[_Helper]) -> None:
        self.call, self.items, self.helpers = call, items, helpers
        self.results: list[Any] = [None] * len(items)
        self.waiting = deque(range(len(items)))
        self.running: dict[_Helper, int] = {}
        self.errors: list[BaseException] = []
        self.here_only = False  # a call that cannot travel (not picklable, or not loadable by a helper) runs here
        self.changed = threading.Condition()

    def _hand_out(self, helper: _Helper) -> None:  # with the condition's lock held
        if self.waiting and not self.errors and not self.here_only:
            index = self.waiting.pop()
            try:
                helper.submit(self.call, self.items[index])
            except (pickle.PicklingError, TypeError, AttributeError):  # a local function or class: run it here
                self.waiting.append(index)
                self.here_only = True
                return
            self.running[helper] = index

    def _answered(self, helper: _Helper, ok: bool | None, value: Any) -> None:
        with self.changed:
            index = self.running.pop(helper, None)
            if index is None:
                return
            if ok is None:
                self.waiting.append(index)
                self.here_only = True
            elif ok:
                self.results[index] = value
            else:
                self.errors.append(value)
            self._hand_out(helper)
            self.changed.notify_all()

    def run(self, first: Callable[[], Any] | None) -> list[Any]:
        try:
            with self.changed:
                for helper in self.helpers:
                    helper.on_answer = self._answered
                    self._hand_out(helper)
            if first is not None:
                first()
            while True:  # this thread's share, then the helpers' last answers (or what they hand back)
                with self.changed:
                    if self.errors:
                        raise self.errors[0]
                    if not self.waiting:
                        if not self.running:
                            break
                        self.changed.wait()
                        continue
                    index = self.waiting.popleft()
                self.results[index] = self.call(self.items[index])
        except BaseException:
            with self.changed:
                self.waiting.clear()
                unfinished = list(self.running)
            for helper in unfinished:  # a helper still at work would answer the next caller: end it instead
                helper.process.kill()
                helper.stop()
            raise
        finally:
            for helper in self.helpers:
                helper.on_answer = None
        return self.results
