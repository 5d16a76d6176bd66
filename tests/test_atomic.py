import os
import stat
from pathlib import Path

import pytest

from clir_calib.atomic import atomic_dir, atomic_file, write_json


def test_files_and_folders_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_dir(tmp_path / "folder") as folder:
            (folder / "inner.txt").write_text("hi")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o755


def test_failure_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "out.txt") as handle:
        handle.write("half")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "dir") as folder:
        (folder / "part").write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_needs_overwrite(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "old").write_text("old")
    with pytest.raises(FileExistsError), atomic_dir(tmp_path / "dir") as folder:
        (folder / "new").write_text("new")
    assert (tmp_path / "dir" / "old").is_file()
    with atomic_dir(tmp_path / "dir", overwrite=True) as folder:
        (folder / "new").write_text("new")
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["SHA256SUMS", "new"]  # new, and its hashes
    assert [p.name for p in tmp_path.iterdir()] == ["dir"]


def test_leftovers_of_killed_writers_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    """A SIGKILLed writer leaves its temporary sibling; the next write next to it removes it (owner gone)."""
    import signal
    import subprocess
    import sys

    from clir_calib.atomic import atomic_dir, temp_prefix

    final = tmp_path / "prepared"
    code = ("import sys, time; from pathlib import Path; from clir_calib.atomic import atomic_dir\n"
            "with atomic_dir(Path(sys.argv[1])) as tmp:\n"
            "    (tmp / 'big.bin').write_bytes(b'x' * 1000); print('writing', flush=True); time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(final)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    live = tmp_path / f"{temp_prefix(final, 'tmp')}abcd"  # this process's own: alive, must stay
    live.mkdir()
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".prepared.tmp-") and p != live]
    assert len(left) == 1 and (left[0] / "big.bin").is_file()
    with atomic_dir(final) as tmp:
        (tmp / "done").write_text("ok")
    assert not left[0].exists() and live.exists() and (final / "done").is_file()
