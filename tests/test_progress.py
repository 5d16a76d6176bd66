"""One progress helper: on stderr when enabled (stdout stays for tables and data), nothing when disabled."""

from __future__ import annotations

import pytest

from clir_calib.progress import progress_bar


def test_progress_goes_to_stderr_and_is_silent_when_disabled(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(True, 3, "encoding", transient=False, fields={"loss": "loss {task.fields[loss]:.2f}"}) as advance:
        for _ in range(3):
            advance(1, loss=0.5)
    shown = capsys.readouterr()
    assert shown.out == "" and "encoding" in shown.err and "3/3" in shown.err and "loss 0.50" in shown.err
    with progress_bar(False, 3, "quiet") as advance:
        advance(3, loss=1.0)
    assert capsys.readouterr() == ("", "")
