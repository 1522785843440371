"""Headings of a notebook: where a notebook with no step tags says its sections begin.

Markdown cells give ATX (``## Train``) and setext (``Train`` over ``-----``) headings; a percent
file's cell title (``# %% Train``) is a heading too, and so is a sphinx-gallery cell's reST heading
in its leading comment block (``# Train`` over ``# -----``) or in the file's opening docstring.
Read without a Markdown library: headings are all inference needs, and fenced code is skipped.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^*+#])\1{2,}\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HTML_HEADING = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1>", re.I | re.S)
_RST_LEVELS = {"=": 1, "-": 2, "~": 3, "^": 4, "*": 3, "+": 4, "#": 1}


@dataclass(frozen=True)
class Heading:
    """A heading: the cell it is in (0-based), its level (1 = title) and its plain text."""

    cell: int
    level: int
    text: str


def markdown_headings(cell: int, source: str) -> list[Heading]:
    """ATX, setext and HTML ``<hN>`` headings of a Markdown cell, outside fenced code."""
    found: list[Heading] = []
    lines = source.splitlines()
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        atx = _ATX.match(line)
        if atx:
            found.append(Heading(cell, len(atx.group(1)), plain_text(atx.group(2))))
            continue
        html = _HTML_HEADING.search(line)
        if html:
            found.append(Heading(cell, int(html.group(1)), plain_text(html.group(2))))
            continue
        under = _SETEXT.match(line)
        if under and i and lines[i - 1].strip() and not _ATX.match(lines[i - 1]):
            found.append(Heading(cell, 1 if line.strip()[0] == "=" else 2, plain_text(lines[i - 1])))
    return [h for h in found if h.text]


def code_headings(cell: int, source: str, title: str | None) -> list[Heading]:
    """A code cell's own headings: its percent title, a reST heading in its leading comment block,
    or the reST/Markdown headings of a cell that is only a docstring (sphinx-gallery's first)."""
    found = [Heading(cell, 2, plain_text(title))] if title and plain_text(title) else []
    if not source.lstrip().startswith(("#", '"', "'", "r", "u", "R", "U")):
        return found  # neither a leading comment block nor a docstring
    comments: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        comments.append(stripped[1:].strip())
    for above, line in zip(comments, comments[1:], strict=False):
        under = _RST_UNDERLINE.match(line)
        if under and above and not _RST_UNDERLINE.match(above) and len(line.strip()) >= len(above) * 0.6:
            found.append(Heading(cell, _RST_LEVELS[under.group(1)], plain_text(above)))
    text = _only_docstring(source)
    if text is not None:
        lines = text.strip().splitlines()
        for above, line in zip(lines, lines[1:], strict=False):
            under = _RST_UNDERLINE.match(line.strip())
            if under and above.strip() and not _RST_UNDERLINE.match(above.strip()):
                found.append(Heading(cell, _RST_LEVELS[under.group(1)], plain_text(above)))
        found += [Heading(cell, h.level, h.text) for h in markdown_headings(cell, text) if h.level < 3]
    return _unique(found)


def _only_docstring(source: str) -> str | None:
    if source.lstrip()[:1] not in ('"', "'") and source.lstrip()[:2].lower() not in ('r"', "r'", 'u"', "u'"):
        return None  # cheap: most cells are code, and a build reads every cell
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    if len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        value = body[0].value.value
        return value if isinstance(value, str) else None
    return None


def _unique(headings: list[Heading]) -> list[Heading]:
    seen: set[str] = set()
    kept = []
    for h in headings:
        if h.text not in seen:
            seen.add(h.text)
            kept.append(h)
    return kept


def plain_text(text: str) -> str:
    """A heading without Markdown: links, emphasis, code marks, HTML tags and anchors."""
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\{#[^}]*\}", "", text)
    text = re.sub(r"[*_`]+", "", text)
    return " ".join(text.split())
