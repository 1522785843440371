"""A step function cut into runs of statements that black lays out alone (``_format``'s pieces).

black formats a function body line by line: each simple statement's layout depends only on its
own tokens, the indentation, the Python versions black infers (the pieces' mark carries them) and
the blank lines before it, which black caps at one inside a function. So between two simple
statements (no ``import``, after which black adds a blank line; no bare string, which black may
read as a docstring) a function can be cut, each run of statements formatted on its own and
remembered by its text, and the runs put back with the blank lines black would keep. Editing one
cell then re-formats the few statements around the edit rather than the whole step.

The cuts fall where a statement's text hashes to a multiple of :data:`_EVERY` (content-defined,
like rsync's blocks): they do not move when other statements change, and a run holds a few
statements, so a build of new notebooks pays black's fixed cost per call only a few times more.

Each run also knows its *parts*: the runs it would fall into with a cut at every place the rule
allows. black lays out a run once, whole, and its layout is split into the parts' layouts
(:func:`split_layout`), which are remembered too; a run met later with one statement new or
changed then sends black only that statement, its other parts being known.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass

_EVERY = 3  # a cut after one statement in three, on average
_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Delete, ast.Pass,
           ast.Raise, ast.Assert, ast.Global, ast.Nonlocal, ast.Break, ast.Continue)
# A run after the first goes to black inside this stand-in (its first line keeps any string in
# the run from being read as a docstring); the same text, laid out by black, is taken off again.
WRAPPER = "def _():\n    _ = 0\n"


Part = tuple[int, str, int]  # (blank lines before it inside its run, text, statement lines in it)


@dataclass(frozen=True)
class Runs:
    """A function cut for black: ``head`` is its ``def`` line and docstring in black's layout when
    that is certain (nb2prod writes both), else None and the first run holds them."""

    head: str | None
    runs: list[tuple[int, str]]  # (blank lines before, text): the ones after the first go in WRAPPER
    parts: list[tuple[Part, ...]]  # each run's parts; a run that holds the ``def`` line, one part


def function_runs(piece: str, every: int = _EVERY) -> Runs | None:
    """``piece`` (one top-level function) cut into runs of statements; None when there is nothing
    to cut (a short step, a decorated function, anything unusual)."""
    function = _only_function(piece)
    if function is None or function.decorator_list or len(function.body) < 3:
        return None
    lines = piece.split("\n")
    groups = _statements_by_line(function.body)
    cuts = []  # (the cut's first line, blank lines before it (both 1-based), a run's start?, group)
    head = _head(lines, groups)
    if head is not None:
        cuts.append((*_cut(lines, groups[0], groups[1]), True, 1))
    for i in range(1, len(groups) - 1):  # the docstring (or first statement) stays with the def
        before, after = groups[i], groups[i + 1]
        if _cuttable(before, after):
            cuts.append((*_cut(lines, before, after), _hash(lines, before) % every == 0, i + 1))
    if not any(starts_run for _, _, starts_run, _ in cuts):
        return None
    runs: list[tuple[int, str]] = []
    parts: list[list[Part]] = [[]]
    start, blank, run_start, run_blank, group = 1, 0, 1, 0, 0
    for first, blanks, starts_run, next_group in [*cuts, (len(lines) + 1, 0, True, len(groups))]:
        parts[-1].append((blank if parts[-1] else 0, "\n".join(lines[start - 1 : first - 1 - blanks]), next_group - group))
        start, blank, group = first, min(1, blanks), next_group  # black keeps one blank line at most
        if starts_run:
            runs.append((run_blank, "\n".join(lines[run_start - 1 : first - 1 - blanks])))
            run_start, run_blank = first, blank
            parts.append([])
    parts.pop()  # (the stand-in cut after the last line opened it)
    if head is not None:  # (the def line and docstring are written directly)
        runs.pop(0)
        parts.pop(0)
    elif len(parts[0]) > 1:  # the run with the def line goes to black alone, as one part
        parts[0] = [(0, runs[0][1], sum(n for _, _, n in parts[0]))]
    return Runs(head, runs, [tuple(p) for p in parts])


def _only_function(text: str) -> ast.FunctionDef | None:
    """The function ``text`` consists of, or None (not Python, or not one function alone)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return None
    return tree.body[0]


def _joined(parts: list[Part]) -> str:
    """A run's text from its parts, as black lays them out in one run (one blank line at most)."""
    return "\n".join("\n" * blank + text if i else text for i, (blank, text, _) in enumerate(parts))


def split_layout(layout: str, parts: tuple[Part, ...]) -> list[str] | None:
    """black's ``layout`` of a run (with :data:`WRAPPER`) split into its parts' layouts, each what
    black writes for the part alone (without the wrapper); None if the layout does not split as
    the parts say (the run's layout is still right: only its parts are not remembered)."""
    function = _only_function(layout)
    if function is None:
        return None
    groups = _statements_by_line(function.body[1:])  # (after the wrapper's `_ = 0`)
    if len(groups) != sum(n for _, _, n in parts):
        return None
    lines = layout.split("\n")
    texts: list[str] = []
    end, taken = WRAPPER.count("\n"), 0  # (0-based: the line after the previous part)
    for k, (_, _, count) in enumerate(parts):
        taken += count
        start, last = end, groups[taken - 1][-1]
        end = len(lines) if k == len(parts) - 1 else last.end_lineno or last.lineno
        while start < end and not lines[start].strip():
            start += 1
        texts.append("\n".join(lines[start:end]))
    if WRAPPER + _joined([(blank, text, n) for (blank, _, n), text in zip(parts, texts, strict=True)]) != layout:
        return None  # (blank lines black did not cap as the parts say)
    return texts


_DEF_LINE = re.compile(r"def [A-Za-z_][A-Za-z0-9_]*\((?:[A-Za-z_][A-Za-z0-9_]*(?:, [A-Za-z_][A-Za-z0-9_]*)*)?\):")
_DOCSTRING_LINE = re.compile(r'    """[^"\\\s][^"\\]*[^"\\\s]"""')


def _head(lines: list[str], groups: list[list[ast.stmt]]) -> str | None:
    """The ``def`` line and one-line docstring nb2prod writes, when black leaves both as they are
    and the first statement after them can start a run."""
    docstring = groups[0][0]
    if not (isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
            and isinstance(docstring.value.value, str) and docstring.lineno == docstring.end_lineno == 2):
        return None
    if not (len(groups[0]) == 1 and _cuttable(groups[1], groups[1])):
        return None
    if not (_DEF_LINE.fullmatch(lines[0]) and _DOCSTRING_LINE.fullmatch(lines[1])):
        return None
    if max(len(lines[0]), len(lines[1])) > 88 or not (lines[0] + lines[1]).isascii():
        return None
    return lines[0] + "\n" + lines[1]


def _cut(lines: list[str], before: list[ast.stmt], after: list[ast.stmt]) -> tuple[int, int]:
    """Where a run starts (a comment on its own line above ``after`` goes with it), and the blank
    lines before that."""
    end = before[-1].end_lineno or before[-1].lineno
    first = next(n for n in range(end + 1, after[0].lineno + 1) if lines[n - 1].strip())
    return first, first - end - 1


def _statements_by_line(body: list[ast.stmt]) -> list[list[ast.stmt]]:
    """The statements grouped so that statements sharing a line (``a = 1; b = 2``) stay together."""
    groups: list[list[ast.stmt]] = []
    for stmt in body:
        if groups and stmt.lineno <= (groups[-1][-1].end_lineno or groups[-1][-1].lineno):
            groups[-1].append(stmt)
        else:
            groups.append([stmt])
    return groups


def _cuttable(before: list[ast.stmt], after: list[ast.stmt]) -> bool:
    """Whether black lays out ``after`` the same when it follows ``before`` or starts a run."""
    def plain(stmt: ast.stmt) -> bool:
        if not isinstance(stmt, _SIMPLE):
            return False
        return not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str))
    return all(plain(s) for s in before) and all(plain(s) for s in after)


def _hash(lines: list[str], group: list[ast.stmt]) -> int:
    text = "\n".join(lines[group[0].lineno - 1 : group[-1].end_lineno or group[-1].lineno])
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).digest(), "big")
