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


@dataclass(frozen=True)
class Runs:
    """A function cut for black: ``head`` is its ``def`` line and docstring in black's layout when
    that is certain (nb2prod writes both), else None and the first run holds them."""

    head: str | None
    runs: list[tuple[int, str]]  # (blank lines before, text): the ones after the first go in WRAPPER


def function_runs(piece: str, every: int = _EVERY) -> Runs | None:
    """``piece`` (one top-level function) cut into runs of statements; None when there is nothing
    to cut (a short step, a decorated function, anything unusual)."""
    try:
        tree = ast.parse(piece)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return None
    function = tree.body[0]
    if function.decorator_list or len(function.body) < 3:
        return None
    lines = piece.split("\n")
    groups = _statements_by_line(function.body)
    cuts = []  # (the cut's first line, blank lines before it), both 1-based
    head = _head(lines, groups)
    if head is not None:
        cuts.append(_cut(lines, groups[0], groups[1]))
    for i in range(1, len(groups) - 1):  # the docstring (or first statement) stays with the def
        before, after = groups[i], groups[i + 1]
        if _cuttable(before, after) and _hash(lines, before) % every == 0:
            cuts.append(_cut(lines, before, after))
    if not cuts:
        return None
    runs: list[tuple[int, str]] = []
    start, blank = 1, 0
    for first, blanks in cuts:
        runs.append((blank, "\n".join(lines[start - 1 : first - 1 - blanks])))
        start, blank = first, min(1, blanks)  # black keeps at most one blank line in a function
    runs.append((blank, "\n".join(lines[start - 1 :])))
    return Runs(head, runs[1:]) if head is not None else Runs(None, runs)


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
