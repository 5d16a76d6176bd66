"""LaTeX (booktabs) versions of the tables the report and ``evaluate --compare`` write.

Cells arrive as the Markdown strings the other formats show: ``**best**`` becomes ``\\textbf``,
``†`` a superscript dagger, ``±``/``↑``/``↓``/``Δ``/``−`` math symbols, and ``[low, high]``
intervals may be dropped (``intervals=False``) for a compact table. Everything else is escaped,
so a system or language name can never break the document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SYMBOLS = {"±": r"$\pm$", "†": r"$^\dagger$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "Δ": r"$\Delta$",
            "−": r"$-$", "×": r"$\times$", "–": "--", "—": "---", "→": r"$\rightarrow$", "≥": r"$\geq$",
            "≤": r"$\leq$", "·": r"$\cdot$", "…": r"\ldots{}", "<": r"\textless{}", ">": r"\textgreater{}"}
_INTERVAL = re.compile(r"\s*\[[-+−\d.eE]+,\s*[-+−\d.eE]+\]")
PREAMBLE = "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage[T1]{fontenc}\n" \
           "\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\usepackage[margin=1.5cm,landscape]{geometry}\n"


def escape(text: str) -> str:
    """Plain text -> LaTeX: specials escaped, the report's symbols as math, **bold** and `code` kept."""
    out: list[str] = []
    bold = code = False
    i = 0
    while i < len(text):
        if text.startswith("**", i):
            out.append("}" if bold else r"\textbf{")
            bold, i = not bold, i + 2
            continue
        char = text[i]
        if char == "`":
            out.append("}" if code else r"\texttt{")
            code = not code
        else:
            out.append(_ESCAPES.get(char) or _SYMBOLS.get(char) or char)
        i += 1
    if bold:
        out.append("}")
    if code:
        out.append("}")
    return "".join(out)


def drop_intervals(cell: str) -> str:
    """``0.712 [0.690, 0.731]`` -> ``0.712`` (marks and bold kept)."""
    return _INTERVAL.sub("", cell)


def latex_table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "", label: str = "",
                intervals: bool = True) -> str:
    """One ``table`` environment: booktabs rules, first column left, the others right-aligned."""
    def cells(values: Sequence[str]) -> str:
        shown = [str(v) if intervals else drop_intervals(str(v)) for v in values]
        return " & ".join(escape(v) for v in shown) + r" \\"

    spec = "l" + "r" * (len(headers) - 1)
    lines = [r"\begin{table}[ht]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             cells(headers), r"\midrule", *[cells(row) for row in rows], r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{re.sub(r'[^A-Za-z0-9:._-]', '-', label)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def latex_document(body: str, title: str = "") -> str:
    """A standalone document around ``body`` (compiles with pdflatex; tables also work with ``\\input``)."""
    head = rf"\title{{{escape(title)}}}" + "\n\\date{}\n" if title else ""
    start = "\\begin{document}\n" + ("\\maketitle\n" if title else "")
    return PREAMBLE + head + start + body + "\\end{document}\n"
