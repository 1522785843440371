"""Why an exported step reads a name that no exported cell defines, said so the user can fix it.

The notebook ran, so the name came from somewhere: a cell the pipeline does not export, or IPython
itself (``%run``, ``%store -r``, ``%pylab``, the output history ``_2`` / ``Out[3]``), which the
pipeline does not have. The message names that cell or feature and the plain-Python replacement;
the NameError it warns of is the generated pipeline's, not the notebook's.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, NoReturn

from nb2prod.analyse.names import statement_events
from nb2prod.analyse.runmagic import run_magics
from nb2prod.errors import AnalysisError
from nb2prod.read.magics import mask_magics

if TYPE_CHECKING:
    from nb2prod.analyse.cells import CellCode
    from nb2prod.analyse.dataflow import DataFlow

#: Names IPython binds in every kernel: the input and output history, and its own helpers.
_HISTORY = re.compile(r"^(_+|_\d+|_i+|_i\d+|_ih|_oh|_dh|In|Out)$")
_IPYTHON_NAMES = {
    "get_ipython": ("IPython's get_ipython()", "call what you use it for in plain Python"),
    "display": ("IPython's display()", "add `from IPython.display import display`, or use print()"),
}
_MAGIC = re.compile(r"^\s*%{1,2}(?P<name>\w+)(?P<rest>.*)$")


def raise_undefined(flow: DataFlow, p: CellCode, name: str, line: int) -> NoReturn:
    """Raise the error for step ``p`` reading ``name`` that nothing exported defines."""
    where = f"step {p.step!r}"
    if flow.calling:  # the read is in the body of a late function the step calls
        function, cell = flow.calling
        where = f"step {p.step!r} calls {function!r} (defined in cell {cell}), whose body"
    if name in flow.hidden_writer:
        cell = flow.hidden_writer[name]
        what, fix = why_hidden(flow, cell, name)
        _fail(flow, p, line, f"{where} reads {name!r}, but only cell {cell}, which is not exported ({what}), "
              "defines it.", f"move the definition of {name!r} into a step, or {fix}.")
    feature = _ipython_feature(flow, p, name)
    if feature is not None:
        _fail(flow, p, line, f"{where} reads {name!r}, which {feature[0]}; the generated pipeline "
              "has no IPython, so it would raise NameError there.", feature[1])
    bound = {  # (what any cell binds, exported or not: the slice may have dropped the definition)
        e.name for q in flow.parsed if q.tree is not None for stmt in q.tree.body
        for e in statement_events(stmt) if e.kind == "write" and not e.name.startswith("_")
    }
    close = difflib.get_close_matches(name, sorted(bound), n=1)
    _fail(
        flow, p, line,
        f"{where} reads {name!r}, which no cell above defines; the generated pipeline would raise "
        "NameError there.",
        (f"did you mean {close[0]!r}? Otherwise d" if close else "d")
        + "efine it in an earlier step or the parameters cell.",
    )


def _fail(flow: DataFlow, p: CellCode, line: int, message: str, hint: str) -> NoReturn:
    raise AnalysisError(message, path=flow.nb.display_path, cell=p.cell.index, line=line, hint=hint)


def _ipython_feature(flow: DataFlow, p: CellCode, name: str) -> tuple[str, str] | None:
    """(what IPython feature may have defined ``name``, the fix), or None when none did."""
    if _HISTORY.match(name):
        if name in ("In", "_ih") or name.startswith("_i"):
            return ("is IPython's input history", "use the code itself, or a string you assign in a cell.")
        number = name.lstrip("_")
        shown = f"Out[{number}]" if number.isdigit() else "the last value a cell showed"
        cells = flow.nb.cells
        where = (f"cell {cells[int(number) - 1].index} (the code cell a top-to-bottom run numbers "
                 f"{number})") if number.isdigit() and 0 < int(number) <= len(cells) else "the cell that computes it"
        return (
            f"is IPython's output history ({shown}, by execution count)",
            f"assign the value to a name in {where}, e.g. `value = ...`, and use that name here; "
            "execution counts change on every run.",
        )
    if name in _IPYTHON_NAMES:
        what, fix = _IPYTHON_NAMES[name]
        return f"is {what}", fix + "."
    folder = flow.nb.path.parent
    for q in flow.parsed:
        if q.cell.index > p.cell.index:
            break
        source = q.cell.source
        if "%" not in source:
            continue
        lines = source.splitlines()
        for run in run_magics(source, folder, flow.written_modules):
            if run.reason:
                return (
                    f"cell {q.cell.index}'s `{run.text}` may define: nb2prod cannot see what a "
                    f"`%run` defines when {run.reason}",
                    f"import it instead, e.g. `from {_module(run.text)} import {name}`, or define "
                    f"{name!r} in a cell.",
                )
        for number in mask_magics(source).magic_lines:
            match = _MAGIC.match(lines[number - 1])
            if match is None:
                continue
            magic, rest = match.group("name"), match.group("rest")
            text = lines[number - 1].strip()
            if magic == "store" and "-r" in rest.split() and (
                name in rest.split() or rest.split() == ["-r"]
            ):
                return (
                    f"cell {q.cell.index}'s `{text}` restores from IPython's database",
                    f"compute {name!r} in a step, or save it to a file in the notebook that made "
                    "it and read that file here (e.g. joblib.dump / joblib.load).",
                )
            if magic == "pylab":
                return (
                    f"cell {q.cell.index}'s `{text}` may define (it star-imports numpy and "
                    "matplotlib.pyplot)",
                    f"import it explicitly, e.g. `from numpy import {name}`, or "
                    "`import numpy as np` and write `np.` before it.",
                )
            if magic == "capture" and name in rest.split():
                return (
                    f"cell {q.cell.index}'s `{text}` binds to the captured output",
                    f"compute what you need from {name!r} in Python (e.g. with "
                    "contextlib.redirect_stdout).",
                )
            if re.search(rf"\b{re.escape(name)}\b", rest):
                return (
                    f"only cell {q.cell.index}'s magic `{text}` mentions (nb2prod cannot see what "
                    "a magic defines)",
                    f"define {name!r} in plain Python in a cell above.",
                )
    return None


def _module(text: str) -> str:
    """``helpers`` for ``%run -i src/helpers.py --fast``."""
    file = next((w.strip("'\"") for w in text.split()[1:] if w.strip("'\"").endswith(".py")), "")
    stem = file.rsplit("/", 1)[-1].removesuffix(".py")
    return stem if stem.isidentifier() else "helpers"


def why_hidden(flow: DataFlow, cell: int, name: str) -> tuple[str, str]:
    """What a cell that is not exported is, and how to export it, for a hint that fits it."""
    hidden = next((p for p in flow.parsed if p.cell.index == cell), None)
    role = hidden.role if hidden is not None else "unexported"
    first = next((c for p in flow.parsed if p.role == "step" for c in [p.cell.index]), None)
    imported = hidden is not None and hidden.tree is not None and any(
        (a.asname or a.name.split(".")[0]) == name
        for node in hidden.tree.body if isinstance(node, ast.Import | ast.ImportFrom)
        for a in node.names
    )
    if role == "skip":
        return "it is tagged 'skip'", f"remove the 'skip' tag from cell {cell}"
    if role == "metrics":
        return "it is Kale's 'pipeline-metrics' cell", f"compute it in a step above cell {cell}"
    where = f"it comes before the first step, at cell {first}" if first is not None else "no step is above it"
    if imported:
        return where, f"tag cell {cell} 'imports' (if it holds only imports) so the module header has them"
    return where, f"tag cell {cell} 'step:NAME' so a step starts there"


def module_read_hint(role: str, name: str) -> str:
    """The fix for module-level code reading a step's variable, by the kind of cell it is."""
    if role == "imports":
        return (
            "an imports cell runs when the module is imported, before any step: keep import "
            f"statements there and move the code that uses {name!r} into a step."
        )
    return (
        f"pass {name!r} to the function as an argument (a statement outside a def that uses it "
        "belongs in a step)."
    )


def closest(name: str, known: Iterable[str]) -> str:
    """A hint for an undefined target: the closest defined name, or the names there are."""
    names = sorted(n for n in known if not n.startswith("_"))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return (
        f"fix the name (defined above: {shown}), or tag the cell that computes {name!r} as part "
        "of a step."
        if names
        else f"tag the cell that computes {name!r} as part of a step."
    )
