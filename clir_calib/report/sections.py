"""The report-section contract: one section is one function of one report context.

Built-in sections and plugins' sections are the same kind of component, registered through the hook
``register_report_sections``; the study report renders every registered section in ``order``. A section reads
what it needs from the context (the study's results, the config, the output folder) and writes through it:
``ctx.heading``, ``ctx.paragraph``, ``ctx.table`` (Markdown, HTML, LaTeX, ``tables.json`` and the terminal in one
call), ``ctx.images``, ``ctx.record`` (more data for ``tables.json``). It writes nothing when it has nothing to say.
"""

from __future__ import annotations

from typing import Any, ClassVar

from clir_calib.params import Declared


class ReportSection(Declared):
    """Base class of a study-report section; subclasses set ``name``, ``description``, ``order`` and implement
    :meth:`render`.

    Example::

        class Centroids(ReportSection):
            name = "centroid-distance"
            description = "How far the centroid loss moved each language's mean embedding."
            order = 55  # after the differences (50), before calibration by view (60)

            def render(self, ctx):
                rows = [[system.name, str(len(system.runs))] for system in ctx.systems]
                ctx.table(["system", "seeds"], rows, caption="centroid loss: runs per system")
    """

    #: where the section goes: the built-ins use 10, 20, ... (see ``clir-calib plugins``); ties keep name order
    order: ClassVar[float] = 500.0

    def render(self, ctx: Any) -> None:
        """Write the section into ``ctx`` (a :class:`clir_calib.pipeline.context.ReportContext`)."""
        raise NotImplementedError

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {**super().describe(), "order": cls.order}
