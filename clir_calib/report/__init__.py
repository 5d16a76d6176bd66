"""Study reports: Markdown and self-contained HTML built from the same blocks."""

from clir_calib.report.document import Report

__all__ = ["Report"]
