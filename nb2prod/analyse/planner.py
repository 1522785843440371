"""From tagged cells to a :class:`~nb2prod.analyse.plan.Plan`: roles, parsing, parameters, assembly.

Each cell gets a role (Kale's rule: an untagged cell continues the step above it), its magics are
masked and its code parsed; the data flow between steps and their order come from
:mod:`nb2prod.analyse.dataflow`. Everything a notebook contributes to generated code or to a path is checked
here or in :mod:`nb2prod.read.tags`: names are identifiers, code compiles as the function body it becomes.

Which of a step's imports move to the module header is :mod:`nb2prod.analyse.hoisting`'s call;
functions that declare ``global`` for a step's variables become that step's closures
(:mod:`nb2prod.analyse.closures`).
"""

from __future__ import annotations

import ast
import keyword
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

from nb2prod.analyse.cells import MODULE_ROLES, CellCode
from nb2prod.analyse.closures import closure_prelude, nonlocal_lines, relocated_lines
from nb2prod.analyse.dataflow import RESERVED, DataFlow
from nb2prod.analyse.hoisting import decide_hoisting, is_import_fallback, keep_star_imports
from nb2prod.analyse.inference import serving_names, with_inference
from nb2prod.analyse.late import call_effects
from nb2prod.analyse.module_code import imported_modules, prune_header, split_module_cells
from nb2prod.analyse.names import calls_read_free_names, is_display_only
from nb2prod.analyse.order import run_order
from nb2prod.analyse.plan import Parameter, Plan, Step
from nb2prod.analyse.slicing import Dropped, slice_steps
from nb2prod.analyse.string_names import string_read_lines
from nb2prod.errors import AnalysisError, TagError
from nb2prod.read.magics import mask_magics, parse_masked, tree_nodes
from nb2prod.read.notebook import Cell, SourceNotebook

#: A parameter may not shadow run()'s own ``**unknown`` catch-all either.
RESERVED_PARAMETERS = RESERVED | {"unknown"}
#: Names the generated run(), main() and _parse_value() use; no step function may shadow them.
GENERATED_NAMES = frozenset(
    {"argparse", "ast", "bool", "dict", "float", "int", "isinstance", "list", "object", "print"}
    | {"sorted", "str", "tuple", "type", "SyntaxError", "TypeError", "ValueError", "set"}
)


def module_name(path: Path) -> str:
    """The notebook's file stem as an ASCII Python identifier: ``01-Données.ipynb`` -> ``nb_01_donnees``.

    The name becomes a folder under ``--out`` and an import path, so nothing but ``[a-z0-9_]`` survives.
    """
    ascii_stem = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^0-9a-z_]+", "_", ascii_stem.lower()).strip("_") or "notebook"
    if name[0].isdigit():
        name = f"nb_{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


def analyse(nb: SourceNotebook) -> Plan:
    """Check the notebook against the tag grammar and infer the pipeline it describes."""
    nb, inferred, bound = _infer_tags(nb)
    cells = _assign_roles(nb)
    parsed = [_parse(nb, c) for c in cells]
    parameters = _parameters(nb, parsed)
    defaults = {p.name: p.default for p in parameters}
    with calls_read_free_names(call_effects(parsed)):  # (a helper reads names when called)
        dropped = keep_star_imports(parsed, slice_steps(parsed, defaults))  # what the targets need
    written_modules = decide_hoisting(parsed, defaults)
    flow = DataFlow(nb, parsed, defaults, written_modules)
    flow.replay()
    flow.warnings += [
        f"{nb.display_path}, cell {k}: this cell is not exported but writes the module cell "
        f"{p.cell.index} (step {p.step!r}) imports; the step writes it too, before the import."
        for p in parsed for k, _ in p.lent_writes
    ]
    order = run_order(nb, flow)
    config, moved, module_dropped = split_module_cells(parsed)  # imports are imports
    steps, empty = _steps(flow, parsed, order)
    dropped = (*dropped, *empty)
    relocated = {f for hosted in flow.relocated.values() for f in hosted}
    functions = "\n\n".join(
        moved[p.cell.index] if p.role == "imports" else _kept_code(p, relocated_lines(flow, p, relocated))
        for p in parsed if p.role == "functions" or p.cell.index in moved
    ).strip()
    used = "\n".join([functions, config, *(s.code for s in steps)])
    header = prune_header(_header(parsed, flow.borrowed), used,
                          pieces=[functions, config, *(s.code for s in steps)])
    modules = imported_modules([header, functions, *(s.code for s in steps)])  # what the code imports
    plan = Plan(
        notebook=nb,
        name=module_name(nb.path),
        header=header,
        functions=functions,
        parameters=parameters,
        steps=steps,
        targets=tuple(t for t in flow.targets if t.kind != "model"),
        imported_modules=modules,
        unexported_cells=tuple(p.cell.index for p in parsed if p.role == "unexported" and p.code.strip()),
        skipped_cells=tuple(p.cell.index for p in parsed if p.role == "skip"),
        warnings=(*nb.warnings, *flow.warnings),
        models=tuple(t for t in flow.targets if t.kind == "model"),
        inferred=inferred,
        expression_targets=bound,
        dropped=tuple(sorted([*dropped, *module_dropped], key=lambda d: (d.cell, d.line == 0, d.line))),
        config=config,
    )
    return with_inference(plan, parsed)


def _infer_tags(nb: SourceNotebook) -> tuple[SourceNotebook, tuple[str, ...], tuple[str, ...]]:
    """Tags for a notebook with no step tags (:mod:`nb2prod.analyse.infer`), and bare expressions
    bound to the parity/metric names tagged on their cells; returns what was inferred and bound."""
    from nb2prod.analyse import infer

    inferred: tuple[str, ...] = ()
    if infer.needs_inference(nb) and nb.cells:
        found = infer.infer(nb, module_name(nb.path))
        if not any(tag.startswith("step:") for tags in found.tags.values() for tag in tags):
            raise TagError(
                f"the notebook has no 'step:NAME' tag, and none of its {len(nb.cells)} code cells "
                "can be a step: each one only plots, shows a value, runs shell commands or does "
                "not parse.",
                path=nb.display_path,
                hint="tag the first cell to export 'step:NAME'; `nb2prod tag NOTEBOOK` shows why "
                "each cell was left out.",
            )
        nb, inferred = infer.apply(nb, found), found.summary
    nb, bound = infer.bind_expressions(nb)
    return nb, inferred, bound


def _assign_roles(nb: SourceNotebook) -> list[tuple[Cell, str, str | None]]:
    """Kale's rule: an untagged cell continues the step above it; before the first step it is unexported."""
    roles: list[tuple[Cell, str, str | None]] = []
    current: str | None = None
    for cell in nb.cells:
        tags = cell.tags
        if cell.injected and not tags.role:  # papermill's values for the parameters
            roles.append((cell, "parameters", None))
        elif tags.role:
            roles.append((cell, tags.role, None))
        elif tags.kale_metrics:
            roles.append((cell, "metrics", None))
        elif tags.step:
            current = tags.step
            roles.append((cell, "step", current))
        else:
            roles.append((cell, "step" if current else "unexported", current))
    _one_parameters_cell(nb, [c.index for c, role, _ in roles if role == "parameters" and not c.injected])
    if not nb.cells:
        raise TagError(
            "the notebook has no code cells, so there is nothing to export.",
            path=nb.display_path,
            hint="add the notebook's code, tag the first cell of each stage 'step:NAME', "
            "then build again.",
        )
    if not any(role == "step" for _, role, _ in roles):
        count = f"{len(nb.cells)} code cell" + ("s" if len(nb.cells) > 1 else "")
        raise TagError(
            f"the notebook has no 'step:NAME' (or Kale 'block:NAME') tag in its {count}, so "
            "there is nothing to export.",
            path=nb.display_path,
            hint="tag the first cell of each pipeline stage, e.g. 'step:load', 'step:train'.",
        )
    return roles


def _one_parameters_cell(nb: SourceNotebook, cells: list[int]) -> None:
    if len(cells) > 1:
        raise TagError(
            f"{len(cells)} cells are tagged 'parameters' (cells {', '.join(map(str, cells))}); "
            "a notebook has one parameters cell.",
            path=nb.display_path,
            cell=cells[1],
            hint="merge them into one cell, or remove the tag from all but one.",
        )


def notebook_parameters(nb: SourceNotebook) -> tuple[Parameter, ...]:
    """The parameters cell's names and defaults, for notebooks that need not have steps (``run``)."""
    cells = [c for c in nb.cells if c.tags.parameters or c.injected]
    _one_parameters_cell(nb, [c.index for c in cells if not c.injected])
    return _parameters(nb, [_parse(nb, (c, "parameters", None)) for c in cells])


def _parse(nb: SourceNotebook, item: tuple[Cell, str, str | None]) -> CellCode:
    cell, role, step = item
    exported = role in ("step", *MODULE_ROLES)
    masked = mask_magics(cell.source)
    if masked.foreign_magic and exported:
        raise AnalysisError(
            f"cell magic {masked.foreign_magic} runs something that is not Python; it cannot be exported.",
            path=nb.display_path,
            cell=cell.index,
            line=1,
            hint="tag the cell 'skip', or rewrite it in Python.",
        )
    if masked.shell_lines and exported:
        line = masked.shell_lines[0]
        raise AnalysisError(
            f"shell escape {cell.source.splitlines()[line - 1].strip()!r} inside exported "
            f"{'step ' + repr(step) if step else role + ' cell'}.",
            path=nb.display_path,
            cell=cell.index,
            line=line,
            hint="install packages in your environment instead, or tag the cell 'skip'.",
        )
    try:
        tree = parse_masked(masked.code)
    except SyntaxError as err:
        if not exported and role != "parameters":
            return CellCode(cell, role, step, None, masked.code)
        raise AnalysisError(
            f"syntax error: {err.msg}.",
            path=nb.display_path,
            cell=cell.index,
            line=err.lineno,
            hint="fix the cell so it runs in Jupyter, or tag it 'skip'.",
        ) from None
    if exported or role == "parameters":
        _check_compiles(nb, cell, tree, role)
    parsed = CellCode(cell, role, step, tree, masked.code)
    parsed.writes_file = masked.written_file
    line_owners: dict[int, int] = {}
    for stmt in tree.body:
        for line in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
            line_owners[line] = line_owners.get(line, 0) + 1
    for stmt in tree.body:
        lines = set(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
        alone = all(line_owners[line] == 1 for line in lines)
        if exported and alone and is_display_only(stmt):
            parsed.drop_lines |= lines
        elif role == "step" and alone and (isinstance(stmt, ast.Import | ast.ImportFrom)
                                           or is_import_fallback(stmt)):
            parsed.hoist_candidates.append(stmt)  # _decide_hoisting says whether it moves
            parsed.kept.append(stmt)
        else:
            parsed.kept.append(stmt)
    return parsed


def _check_compiles(nb: SourceNotebook, cell: Cell, tree: ast.Module, role: str) -> None:
    """Errors only the compiler sees (``return`` or ``yield`` outside a function, top-level ``await``):
    the cell must be valid where it goes, a module or a step's function body."""
    try:
        compile(tree, f"<cell {cell.index}>", "exec", dont_inherit=True)
    except SyntaxError as err:
        awaits = "await" in (err.msg or "")
        raise AnalysisError(
            f"syntax error: {err.msg}.",
            path=nb.display_path,
            cell=cell.index,
            line=err.lineno,
            hint="top-level await works in Jupyter but not in a pipeline: wrap the coroutine in "
            "asyncio.run(...)."
            if awaits
            else f"a {role} cell is plain module code; move the statement into a function, or tag "
            "the cell 'skip'.",
        ) from None


def _parameters(nb: SourceNotebook, parsed: list[CellCode]) -> tuple[Parameter, ...]:
    found: dict[str, Parameter] = {}
    for p in parsed:
        if p.role != "parameters" or p.tree is None:
            continue
        for stmt in p.tree.body:
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
            annotation = None
            if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                target, annotation = stmt.target, ast.unparse(stmt.annotation)
            value = getattr(stmt, "value", None)
            if not isinstance(target, ast.Name) or value is None:
                raise AnalysisError(
                    f"the parameters cell may only assign literals to names; found {ast.unparse(stmt)!r}.",
                    path=nb.display_path,
                    cell=p.cell.index,
                    line=stmt.lineno,
                    hint="move computed values into the first step.",
                )
            try:
                default = ast.literal_eval(value)
            except ValueError:
                raise AnalysisError(
                    f"parameter {target.id!r} = {ast.unparse(value)} is not a literal "
                    "(papermill can only inject literals).",
                    path=nb.display_path,
                    cell=p.cell.index,
                    line=stmt.lineno,
                    hint=f"give {target.id!r} a literal default (number, string, bool, None, "
                    "list, dict) and compute derived values in a step.",
                ) from None
            type_name = annotation or type(default).__name__
            if p.cell.injected and target.id in found:  # papermill's value overrides the placeholder
                annotation = None if found[target.id].type_name == "NoneType" else annotation
                type_name = annotation or type(default).__name__
            found[target.id] = Parameter(
                target.id, default, type_name, ast.unparse(value), p.cell.index, p.cell.injected
            )
            if target.id in RESERVED_PARAMETERS or target.id.startswith("_nb2prod"):
                raise AnalysisError(
                    f"parameter name {target.id!r} is reserved by the generated module.",
                    path=nb.display_path,
                    cell=p.cell.index,
                    line=stmt.lineno,
                    hint="rename it.",
                )
    return tuple(found.values())


def _steps(flow: DataFlow, parsed: list[CellCode], order: list[str]) -> tuple[tuple[Step, ...], tuple[Dropped, ...]]:
    """The steps with code, in run order, and a record for each cell or step left with nothing."""
    taken = (
        set(flow.writer)
        | flow.module_names
        | RESERVED
        | GENERATED_NAMES
        | {n for w in flow.written.values() for n in w}
        | _names_in(parsed)
        | serving_names(parsed)
    )
    by_step: dict[str, list[CellCode]] = {}
    for p in parsed:
        if p.role == "step" and p.step is not None:
            by_step.setdefault(p.step, []).append(p)
    steps = []
    used: set[str] = set()
    dropped: list[Dropped] = []
    for name in order:
        function = name  # a step's function must not shadow any name the module uses
        while function in taken or function in used or (function in by_step and function != name):
            function += "_step"
        pieces: dict[int, str] = {}
        for p in by_step.get(name, []):
            kept = _kept_code(p, string_read_lines(p, by_step[name], nonlocal_lines(flow, p)))
            if kept and not _has_code(kept):  # only comments are left (its imports went to the header)
                dropped.append(Dropped(p.cell.index, 0, "", "nothing left but comments: the cell goes"))
                kept = ""
            if kept or p.lent_writes:
                pieces[p.cell.index] = "".join(
                    f"# cell {k} (not exported): the module cell {p.cell.index} imports\n{w}\n\n"
                    for k, w in p.lent_writes) + (f"# cell {p.cell.index}\n{kept}" if kept else "")
        code = closure_prelude(flow, parsed, name, by_step.get(name, [])) + "\n\n".join(pieces.values())
        if not code.strip() and not flow.written.get(name):
            cells = flow.cells[name]
            span = f"cell {cells[0]}" if len(cells) == 1 else f"cells {_span(cells)}"
            dropped.append(Dropped(cells[0], 0, "", f"nothing in {span} is needed", step=name,
                                   cells=tuple(cells)))
            continue  # a step with no code is neither generated nor called
        used.add(function)
        needed = flow.needed.get(name, set())
        deps = flow.deps.get(name, {})
        steps.append(
            Step(
                name=name,
                function=function,
                cells=tuple(flow.cells[name]),
                code_cells=tuple(pieces),
                code=code,
                inputs=tuple(flow.inputs.get(name, {})),
                outputs=tuple(n for n in flow.written.get(name, {}) if n in needed),
                after=tuple(flow.after.get(name, {})),
                depends_on=tuple(s for s in order if s in deps),
                files_written=tuple(flow.files_written.get(name, {})),
            )
        )
    gone = {d.step for d in dropped if d.step}
    if gone and len(gone) == len(order):
        raise AnalysisError(
            f"every step ({', '.join(order)}) is empty once what no target, file or later step needs "
            "is left out: the module would run nothing.",
            path=flow.nb.display_path,
            cell=flow.cells[order[0]][0],
            hint="tag the value the pipeline is for 'parity:VAR' or 'metric:VAR' on the cell that "
            "computes it, or tag the cells to keep 'keep'; `nb2prod build --explain` shows why each "
            "statement went.",
        )
    if gone:
        steps = [replace(s, after=tuple(a for a in s.after if a not in gone),
                         depends_on=tuple(d for d in s.depends_on if d not in gone)) for s in steps]
    return tuple(steps), tuple(dropped)


def _has_code(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _span(cells: list[int]) -> str:
    """``22-28`` for consecutive cells, ``4, 6, 9`` otherwise."""
    consecutive = cells == list(range(cells[0], cells[-1] + 1))
    return f"{cells[0]}-{cells[-1]}" if consecutive else ", ".join(map(str, cells))


def _names_in(parsed: list[CellCode]) -> set[str]:
    """Every plain name the exported code mentions (``print``, ``len``, its own variables)."""
    return {
        node.id
        for p in parsed
        if p.tree is not None and p.role in ("step", "parameters", *MODULE_ROLES)
        for node in tree_nodes(p.tree)
        if isinstance(node, ast.Name)
    }


def _kept_code(p: CellCode, replaced: dict[int, str] | set[int] | None = None) -> str:
    """The cell's code without dropped lines; ``replaced`` rewrites lines (a dict) or drops more (a set)."""
    rewrite = replaced if isinstance(replaced, dict) else {}
    drop = p.drop_lines | (replaced if isinstance(replaced, set) else set())
    lines = [rewrite.get(i, line) for i, line in enumerate(p.code.splitlines(), 1) if i not in drop]
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).rstrip()


def _header(parsed: list[CellCode], borrowed: dict[int, dict[str, None]]) -> str:
    future: list[str] = []
    body: list[str] = []
    for p in parsed:
        if p.role == "imports":
            body.append(_kept_code(p))
        for stmt in [*p.hoisted, *borrowed.get(p.cell.index, {})]:
            (future if stmt.startswith("from __future__") else body).append(stmt)
    return "\n".join(dict.fromkeys(s for s in [*future, *body] if s.strip()))
