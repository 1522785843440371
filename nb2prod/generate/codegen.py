"""Plan -> ``pipeline.py`` source text, formatted by black's library API.

The module reads like a careful engineer wrote it: the notebook's imports and functions, a
``PARAMETERS`` table, one function per step (inputs as arguments, outputs returned), ``run()`` that calls
them in order, and ``main()`` for ``python -m``. Generated code never imports nb2prod.
"""

from __future__ import annotations

from pathlib import Path

from nb2prod import FORMAT_VERSION, __version__
from nb2prod.analyse.plan import Parameter, Plan, Step
from nb2prod.errors import AnalysisError
from nb2prod.generate.source import MUTABLE_TYPES, indent, signature_argument

_MAIN = '''
def main(argv: list[str] | None = None) -> None:
    """Run from the shell: ``python -m generated.{name} -p NAME VALUE``; prints the results."""
    import argparse

    me = __spec__.name if __spec__ is not None else __name__
    package = me.rpartition(".")[0].rpartition(".")[0] or me  # <out>.<name>, the real package
    known = ", ".join(PARAMETERS) or "none (this notebook has no parameters cell)"
    parser = argparse.ArgumentParser(
        prog=f"python -m {{package}}", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="override a parameter (repeatable); known: " + known,
    )
    args = parser.parse_args(argv)
    params = {{}}
    for name, text in args.parameter:
        if name not in PARAMETERS:
            parser.error(f"unknown parameter {{name!r}}; known: {{known}}")
        try:
            params[name] = _parse_value(text, PARAMETERS[name])
        except ValueError as err:
            parser.error(f"parameter {{name!r}}: {{err}}")
    for name, value in run(**params).items():
        print(f"{{name}} = {{value!r}}")


def _parse_value(text: str, default: object) -> object:
    """Type a command-line string like the parameter's default."""
    import ast

    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"expected true or false, got {{text!r}}")
        return text.lower() in ("true", "1", "yes")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            return float(text)  # an int parameter widens to float
    if isinstance(default, float):
        return float(text)
    if isinstance(default, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


if __name__ == "__main__":
    main()
'''


def generate_source(plan: Plan) -> str:
    """The module's code without its stamp, before black; its hash decides whether a build is new.

    Hashing before black keeps ``nb2prod build --check`` from importing black at all.
    """
    parts = []
    if plan.header:
        parts.append(plan.header)
    if plan.functions:
        parts.append(plan.functions)
    parts.append(_parameters_table(plan.parameters))
    parts.extend(_step_function(plan, step) for step in plan.steps)
    parts.extend(_serving_functions(plan))  # fit() and predict(), before run(): see below
    _check_compiles("\n\n\n".join(parts) + "\n", plan)  # run() and main() are nb2prod's own
    parts.append(_run_function(plan))
    parts.append(_MAIN.format(name=plan.name).strip())
    source = "\n\n\n".join(parts) + "\n"
    _check_module_level_order(plan)
    return source


def _check_module_level_order(plan: Plan) -> None:
    """The notebook's module-level code (imports, then functions cells) runs at import: a name it
    uses right away must be bound by a statement above it, or importing the module fails."""
    import ast
    import builtins

    from nb2prod.analyse.names import statement_events

    # a parameter or step variable named like a builtin (``print = 3``) is not the builtin here:
    # module-level code runs at import, before run() has parameters or has run a step
    notebook_names = {p.name for p in plan.parameters} | {o for s in plan.steps for o in s.outputs}
    bound = set(dir(builtins)) - notebook_names
    bound |= {"__name__", "__doc__", "__file__", "__spec__", "__builtins__"}
    try:
        tree = ast.parse(f"{plan.header}\n{plan.functions}")
    except SyntaxError:
        return  # _check_compiles names it
    for stmt in tree.body:
        for event in statement_events(stmt):
            if event.kind == "read" and not event.deferred and event.name not in bound:
                if "*" in bound:
                    return  # a star import may bind anything
                cell = _cell_holding(plan, ast.get_source_segment(f"{plan.header}\n{plan.functions}", stmt))
                raise AnalysisError(
                    f"module-level code uses {event.name!r} before anything above it defines it "
                    "(importing the generated module would raise NameError).",
                    path=plan.notebook.display_path,
                    cell=cell,
                    hint=f"define {event.name!r} in an earlier 'imports' or 'functions' cell, or "
                    "move this code into a step.",
                )
            if event.kind in ("write", "keep"):
                bound.add(event.name)


def _cell_holding(plan: Plan, code: str | None) -> int | None:
    first = (code or "").strip().splitlines()[0] if (code or "").strip() else None
    return next((c.index for c in plan.notebook.cells if first and first in c.source), None)


def _check_compiles(source: str, plan: Plan) -> None:
    """The last guard before anything is written: the module compiles, or the cell is named.

    Analysis rejects what it can name precisely; this catches what only becomes invalid inside the
    step function a cell turns into (``global x`` for an input ``x``, ``import *`` in a block).
    """
    try:
        compile(source, "pipeline.py", "exec", dont_inherit=True)
    except SyntaxError as err:
        lines = source.splitlines()[: err.lineno or 0]
        cell = next(
            (int(t.strip()[7:]) for t in reversed(lines) if t.strip().startswith("# cell ")
             and t.strip()[7:].isdigit()),
            None,
        )
        raise AnalysisError(
            f"the code generated from this notebook does not compile: {err.msg} (pipeline.py "
            f"line {err.lineno}).",
            path=plan.notebook.display_path,
            cell=cell,
            hint="each step becomes a function: 'global', 'nonlocal' and 'import *' inside a "
            "block do not work there; move such code into a 'functions' cell, or tag it 'skip'.",
        ) from None


def stamp(plan: Plan, version: str) -> str:
    """The docstring that says which nb2prod, which format and which source wrote the module."""
    nb = plan.notebook
    return (
        f'"""Pipeline {plan.name!r} {version}, generated by nb2prod {__version__} '
        f"(format {FORMAT_VERSION}) from {docstring_text(nb.display_path)}.\n\n"
        f"Source sha256: {nb.sha256}\n"
        "Do not edit by hand: change the notebook and run `nb2prod build`.\n"
        '"""\n\n'
    )


def stamped(plan: Plan, version: str, body: str) -> str:
    """The module as written: the stamp, then ``body`` (black's output for the code).

    black separates a module docstring from what follows by one blank line, except before some
    definitions (``def``, ``class``, a comment above one...), where it wants two. A body that starts
    with nb2prod's ``PARAMETERS`` or an import (every example) needs nothing more; anything else
    (an imports cell that opens with a def) goes through black once more, whole.
    """
    text = stamp(plan, version) + body
    if body.startswith(("import ", "from ", "PARAMETERS")):
        return text
    import black

    return black.format_str(text, mode=black.Mode())


def docstring_text(text: str) -> str:
    """``text`` safe inside a triple-quoted docstring: a file name is data, never code.

    Backslashes, quotes and control characters are escaped, so a notebook whose name holds three
    double quotes, or a backslash before ``N``, cannot end the docstring or break it.
    """
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif not char.isprintable():
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def format_code(source: str, plan: Plan) -> str:
    import black

    from nb2prod.generate._format import format_module

    try:
        return format_module(source, plan.name, _MAIN)
    except black.InvalidInput as err:  # the cells parsed, so this is nb2prod's bug, said plainly
        raise AnalysisError(
            f"black cannot format the generated code ({err}).",
            path=plan.notebook.display_path,
            hint="please report this notebook to nb2prod's issue tracker.",
        ) from None


def warm_formatter(name_lengths: set[int]) -> None:
    """Format the ``main()`` template for each module-name length now (processes forked afterwards
    inherit the layouts; a length the disk knows is a look-up)."""
    from nb2prod.generate._format import _format_template

    for length in name_lengths:
        _format_template(_MAIN, length)


def _parameters_table(parameters: tuple[Parameter, ...]) -> str:
    rows = "".join(f"    {p.name!r}: {p.literal},\n" for p in parameters)
    return f"PARAMETERS = {{\n{rows}}}" if rows else "PARAMETERS: dict[str, object] = {}"


def _step_function(plan: Plan, step: Step) -> str:
    cells = ", ".join(map(str, step.exported_cells))  # cells that left no code are not its source
    noun = "cells" if len(step.exported_cells) > 1 else "cell"
    doc = f'"""Step {step.name!r}: notebook {noun} {cells}."""'
    body = [doc, step.code] if step.code.strip() else [doc]
    if step.outputs:
        body.append(f"return {', '.join(step.outputs)}")
    return f"def {step.function}({', '.join(step.inputs)}):\n" + "\n".join(indent(b) for b in body)


def _run_function(plan: Plan) -> str:
    signature = ["*"] + [signature_argument(p) for p in plan.parameters] + ["**unknown"]
    if not plan.parameters:
        signature = ["**unknown"]
    lines = [
        '"""Run the steps in order; return the parity and metric values by variable name."""',
        "if unknown:",
        "    raise TypeError(",
        '        f"run() got unknown parameter(s) {\', \'.join(sorted(unknown))}; "',
        f'        "known parameters: {", ".join(p.name for p in plan.parameters) or _NO_PARAMETERS}"',
        "    )",
    ]
    lines += plan.config.splitlines()  # the notebook's seeding, warnings, options: here, not at import
    for p in plan.parameters:
        if p.type_name in MUTABLE_TYPES:
            lines.append(f"{p.name} = {p.literal} if {p.name} is None else {p.name}")
    for step in plan.steps:
        call = f"{step.function}({', '.join(step.inputs)})"
        if step.outputs:
            lines.append(f"{', '.join(step.outputs)} = {call}")
        else:
            lines.append(call)
    results = ", ".join(f"{t.name!r}: {t.name}" for t in plan.targets)
    lines.append(f"return {{{results}}}")
    return f"def run({', '.join(signature)}) -> dict[str, object]:\n" + "\n".join(
        indent(line) for line in lines
    )


_NO_PARAMETERS = "none (this notebook has no parameters cell)"


# --- the production half: fit() and predict() (nb2prod/generate/fit_predict.py) -------------------


def _serving_functions(plan: Plan) -> list[str]:
    """``fit`` and ``predict`` for a notebook with ``model:`` tags; nothing otherwise, so the code
    (and the code hash) of an untagged notebook stays what it was. They go before ``run()``, which
    ``_format`` expects right above ``main()``."""
    if not plan.models:
        return []
    from nb2prod.generate.fit_predict import serving_functions

    return serving_functions(plan)


def cell_of_line(pipeline: Path, line: int) -> int | None:
    """The notebook cell a line of a generated ``pipeline.py`` came from (the ``# cell N`` marks
    :func:`generate_source` writes above each cell's code); None outside a step."""
    for text in reversed(pipeline.read_text(encoding="utf-8").splitlines()[:line]):
        stripped = text.strip()
        if stripped.startswith("# cell ") and stripped[7:].isdigit():
            return int(stripped[7:])
        if text.startswith("def "):
            return None
    return None
