"""One writer per output folder: a second writer gets one line naming the holder; a killed holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clir_calib.cli import app
from clir_calib.locking import FolderBusyError, folder_lock, lock_path

HOLD = """
import sys, time
from clir_calib.locking import folder_lock
with folder_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _hold(folder: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_with_the_holder_and_a_killed_holder_frees_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    holder = _hold(folder)
    try:
        with pytest.raises(FolderBusyError, match=rf"pid {holder.pid} on .*wait for it"), folder_lock(folder):
            pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert lock_path(folder).exists()  # the killed process left its lock file behind ...
    with folder_lock(folder):  # ... and it is free: the kernel released the lock with the process
        pass
    assert not lock_path(folder).exists()  # a released lock leaves nothing behind


@pytest.mark.parametrize("command", ["distill", "evaluate", "prepare"])
def test_cli_writers_refuse_a_folder_another_process_writes(command: str, tmp_path: Path, prepared_dir: Path,
                                                            tiny_model_dir: Path, fake_multi30k: Path) -> None:
    out = tmp_path / "out"
    args = {
        "distill": ["distill", "--teacher", str(tiny_model_dir), "--student", str(tiny_model_dir), "--data",
                    str(prepared_dir), "--max-pairs", "8", "--set", "device=cpu", "--no-progress"],
        "evaluate": ["evaluate", "--prepared", str(prepared_dir), "--teacher", str(tiny_model_dir), "-m",
                     str(tiny_model_dir), "--langs", "de", "--set", "device=cpu", "--no-progress"],
        "prepare": ["prepare", "--source", str(fake_multi30k)],
    }[command]
    holder = _hold(out)
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(app, [*args, "--out", str(out)])
        assert time.perf_counter() - started < 30  # refused at once, not after the work
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert result.exit_code == 2, result.output
    assert f"pid {holder.pid}" in result.output and "Traceback" not in result.output
    assert not out.exists()
