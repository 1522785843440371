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

_EVERY = 3  # a cut after one statement in three, on average
_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Delete, ast.Pass,
           ast.Raise, ast.Assert, ast.Global, ast.Nonlocal, ast.Break, ast.Continue)
# A run after the first goes to black inside this stand-in (its first line keeps any string in
# the run from being read as a docstring); the same text, laid out by black, is taken off again.
WRAPPER = "def _():\n    _ = 0\n"


def function_runs(piece: str, every: int = _EVERY) -> list[tuple[int, str]] | None:
    """``piece`` (one top-level function) as ``[(blank lines before, text), ...]``: the first run
    with the ``def`` line, the others to be formatted after :data:`WRAPPER`. None when there is
    nothing to cut (a short step, a decorated function, anything unusual)."""
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
    for i in range(1, len(groups) - 1):  # the docstring (or first statement) stays with the def
        before, after = groups[i], groups[i + 1]
        if not (_cuttable(before, after) and _hash(lines, before) % every == 0):
            continue
        end = before[-1].end_lineno or before[-1].lineno
        first = next(n for n in range(end + 1, after[0].lineno + 1) if lines[n - 1].strip())
        cuts.append((first, first - end - 1))  # what comes first may be a comment on its own line
    if not cuts:
        return None
    runs: list[tuple[int, str]] = []
    start, blank = 1, 0
    for first, blanks in cuts:
        runs.append((blank, "\n".join(lines[start - 1 : first - 1 - blanks])))
        start, blank = first, min(1, blanks)  # black keeps at most one blank line in a function
    runs.append((blank, "\n".join(lines[start - 1 :])))
    return runs


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
