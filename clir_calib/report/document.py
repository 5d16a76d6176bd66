"""A tiny document model rendered to Markdown and to self-contained HTML.

Building both formats from one list of blocks keeps ``report.md`` and ``report.html`` in step;
images are linked (relative paths) in Markdown and embedded (base64) in HTML so the HTML file
can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from clir_calib.atomic import write_text


@dataclass
class _Heading:
    text: str
    level: int


@dataclass
class _Paragraph:
    text: str


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class _Images:
    paths: list[Path]
    captions: list[str]
    columns: int


@dataclass
class _Code:
    text: str


@dataclass
class Report:
    """Collect blocks with ``heading``/``paragraph``/``table``/``images``/``code``; then ``write``."""

    title: str
    blocks: list[object] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(_Heading(text, level))

    def paragraph(self, text: str) -> None:
        self.blocks.append(_Paragraph(text))

    def table(self, headers: list[str], rows: list[list[str]], caption: str = "") -> None:
        self.blocks.append(_Table(list(headers), [list(map(str, r)) for r in rows], caption))

    def images(self, paths: list[Path], captions: list[str] | None = None, columns: int = 3) -> None:
        existing = [Path(p) for p in paths]
        self.blocks.append(_Images(existing, captions or [p.stem for p in existing], columns))

    def code(self, text: str) -> None:
        self.blocks.append(_Code(text))

    # -- rendering ---------------------------------------------------------------------------

    def to_markdown(self, base: Path) -> str:
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            if isinstance(block, _Heading):
                out += [f"{'#' * block.level} {block.text}", ""]
            elif isinstance(block, _Paragraph):
                out += [block.text, ""]
            elif isinstance(block, _Table):
                if block.caption:
                    out += [f"*{block.caption}*", ""]
                out.append("| " + " | ".join(_md_cell(h) for h in block.headers) + " |")
                out.append("|" + "|".join("---" for _ in block.headers) + "|")
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
                out.append("")
            elif isinstance(block, _Images):
                for path, caption in zip(block.paths, block.captions, strict=True):
                    out.append(f"![{caption}]({_relative(path, base)})")
                out.append("")
            elif isinstance(block, _Code):
                out += ["```", block.text.rstrip("\n"), "```", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        body: list[str] = [f"<h1>{html.escape(self.title)}</h1>"]
        for block in self.blocks:
            if isinstance(block, _Heading):
                level = min(max(block.level, 1), 6)
                body.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
            elif isinstance(block, _Paragraph):
                body.append(f"<p>{_inline(block.text)}</p>")
            elif isinstance(block, _Table):
                caption = f"<caption>{_inline(block.caption)}</caption>" if block.caption else ""
                head = "".join(f"<th>{_inline(h)}</th>" for h in block.headers)
                rows = "".join(
                    "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows
                )
                body.append(f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead>'
                            f"<tbody>{rows}</tbody></table></div>")
            elif isinstance(block, _Images):
                cells = []
                for path, caption in zip(block.paths, block.captions, strict=True):
                    if path.is_file():
                        data = base64.b64encode(path.read_bytes()).decode("ascii")
                        img = f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                    else:
                        img = f"<em>missing: {html.escape(str(path.name))}</em>"
                    cells.append(f"<figure>{img}<figcaption>{html.escape(caption)}</figcaption></figure>")
                style = f"grid-template-columns: repeat({max(block.columns, 1)}, 1fr)"
                body.append(f'<div class="grid" style="{style}">' + "".join(cells) + "</div>")
            elif isinstance(block, _Code):
                body.append(f"<pre>{html.escape(block.text)}</pre>")
        return _PAGE.format(title=html.escape(self.title), body="\n".join(body))

    def to_latex(self, base: Path) -> str:
        """A standalone LaTeX document: every table in booktabs, figures by relative path."""
        from clir_calib.report.latex import escape, latex_document, latex_table

        out: list[str] = []
        tables = 0
        for block in self.blocks:
            if isinstance(block, _Heading):
                out.append(f"\\{'sub' * min(max(block.level - 2, 0), 2)}section*{{{escape(block.text)}}}\n")
            elif isinstance(block, _Paragraph):
                out.append(escape(block.text) + "\n")
            elif isinstance(block, _Table):
                tables += 1
                out.append(latex_table(block.headers, block.rows, block.caption, label=f"tab:{tables}"))
            elif isinstance(block, _Images):
                width = f"{0.95 / max(block.columns, 1):.2f}\\linewidth"
                graphics = "\n".join(f"\\includegraphics[width={width}]{{{_relative(p, base)}}}"
                                      for p in block.paths if p.is_file())
                if graphics:
                    out.append(f"\\begin{{figure}}[ht]\n\\centering\n{graphics}\n\\end{{figure}}\n")
            elif isinstance(block, _Code):
                out.append("\\begin{verbatim}\n" + block.text.rstrip("\n") + "\n\\end{verbatim}\n")
        return latex_document("\n".join(out), self.title)

    def write(self, folder: Path, stem: str = "report") -> tuple[Path, Path]:
        """Write ``stem.md``, ``stem.html`` and ``stem.tex`` into ``folder`` atomically; return the first two."""
        folder.mkdir(parents=True, exist_ok=True)
        md_path, html_path = folder / f"{stem}.md", folder / f"{stem}.html"
        write_text(md_path, self.to_markdown(folder))
        write_text(html_path, self.to_html())
        write_text(folder / f"{stem}.tex", self.to_latex(folder))
        return md_path, html_path


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return str(path)


def _inline(text: str) -> str:
    """Escape, then render the two Markdown inline marks the tables use: **bold** and `code`."""
    escaped = html.escape(str(text))
    parts = escaped.split("**")
    escaped = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    parts = escaped.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1280px;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }}
h1 {{ border-bottom: 2px solid #ddd; padding-bottom: .3rem; }}
h2 {{ margin-top: 2.2rem; border-bottom: 1px solid #eee; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: .88rem; font-variant-numeric: tabular-nums; }}
caption {{ text-align: left; font-style: italic; margin-bottom: .3rem; }}
th, td {{ border: 1px solid #d0d0d0; padding: .25rem .5rem; text-align: right; white-space: nowrap; }}
th {{ background: #f3f4f6; }}
td:first-child, th:first-child {{ text-align: left; }}
tbody tr:nth-child(even) {{ background: #fafafa; }}
.scroll {{ overflow-x: auto; }}
.grid {{ display: grid; gap: .8rem; margin: 1rem 0; }}
figure {{ margin: 0; text-align: center; }}
figure img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption {{ font-size: .8rem; color: #555; }}
pre {{ background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .8rem; }}
code {{ background: #f3f4f6; padding: 0 .2rem; }}
</style></head>
<body>
{body}
</body></html>
"""
