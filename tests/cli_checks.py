"""Assertions on CLI results shared by the failure tests."""

from __future__ import annotations

from typing import Any


def one_line_error(result: Any, code: int = 2) -> str:
    """The single ``Error:`` line of a CLI result that exited with ``code`` and printed no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]
