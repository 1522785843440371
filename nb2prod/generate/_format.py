"""black for generated modules, paid as little as possible (profiling showed black is most of a build).

Four savings, none changes a byte of the output (tests compare with plain ``black.format_str``):

* Every module ends with the same ``main()`` template, which costs black two passes (it is not written
  in black's style, and its text is part of each version's code hash, so it stays as it is). Its
  layout depends only on the length of the module name, so it is formatted once per length, with a
  placeholder name, remembered on disk, and spliced after the formatted rest of the module.
* ``run()`` is nb2prod's own code around names and the parameters' literals, a third of the rest:
  where its layout is certain (plain literals, nb2prod's own statements) it is written in black's
  layout directly (:mod:`nb2prod.generate._run_layout`), and black reads only the module's head,
  with an f-string standing in for the version inference the whole module would give.
* black makes a second pass over anything its first pass changed. The user's cells are usually
  black-clean already; what the first pass changed was nb2prod's own scaffolding (``repr``'s single
  quotes in ``PARAMETERS`` and ``run()``, ``run()``'s one-line signature, two blank lines after the
  imports). That scaffolding is handed to black in black's own layout, so one pass suffices.
* The head is formatted piece by piece (imports to ``PARAMETERS``, then each step function), and
  each piece's layout is remembered on disk, keyed like black's own cache (black's version, its
  mode, the piece's hash): editing one cell re-formats one step, and a step seen before (the same
  helper in many notebooks, the unchanged steps of an edited one) costs a dictionary look-up.
  See :func:`_format_head` for when the pieces are laid out exactly as the whole would be.
* A build formats its modules in worker processes, with the rest of each notebook's work
  (:mod:`nb2prod.store._fork_pool`).
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from nb2prod.generate._black_features import _newer_syntax
from nb2prod.generate._chunks import WRAPPER, Part, Runs, _joined, function_runs, split_layout
from nb2prod.generate._piece_store import (
    _fresh_pieces,
    _piece_key,
    _stored_pieces,
    being_laid_out_elsewhere,
    claim_layout,
    share_layout,
    shared_layout,
)
from nb2prod.generate._run_layout import (
    _LINE_LENGTH,
    _RUN_DEF,
    _RUN_START,
    _canonical_literals,
    _run_as_black_writes_it,
    _run_signature,
)

_PLACEHOLDER = "Q"
_KEY = r"'([A-Za-z_][A-Za-z0-9_]*)'"  # a quoted identifier: black always writes it "..."
_PARAMETERS_START = re.compile(r"^PARAMETERS\b", re.M)
_PARAMETERS = re.compile(r"^PARAMETERS = \{\n(?:    .*\n)*?\}$", re.M)
_PARAMETER_ROW = re.compile(r"^    " + _KEY + ": ", re.M)
_RETURN_DICT = re.compile(r"^    return \{(" + _KEY + r": \w+(?:, " + _KEY + r": \w+)*)\}$", re.M)


def format_module(source: str, name: str, template: str) -> str:
    """``black.format_str(source)``, where ``source`` ends with ``template`` formatted for ``name``."""
    import black

    tail = template.format(name=name).strip() + "\n"
    mode = black.Mode()
    if not (source.endswith(tail) and name.isascii()) or "fmt:" in source or "yapf:" in source:
        return black.format_str(source, mode=mode)  # anything unusual: black sees the whole module
    head = source[: -len(tail)].rstrip("\n") + "\n"
    cut = head.rfind(_RUN_START)
    statements = functools.partial(_format_alone, mode=mode)  # the notebook's, at the start of run()
    run = _run_as_black_writes_it(head[cut + 3 :], statements) if cut >= 0 else None
    if run is not None:
        head = head[: cut + 1]
    formatted = _format_head(head, mode)
    if formatted is None:
        return black.format_str(source, mode=mode)
    return formatted + (f"\n\n{run}" if run else "") + "\n\n" + _formatted_template(template, name)


_VERSIONS_MARK = 'f"{0}"\n'


def _preshape(source: str) -> str:
    """nb2prod's scaffolding as black writes it; a miss here costs time, never correctness.

    Each rewritten piece must parse to the same syntax tree as before, or it is left as it was.
    """
    shaped = _one_line_after_imports(source)

    def table(m: re.Match[str]) -> str:
        return _same_tree(m.group(0), _PARAMETER_ROW.sub(r'    "\1": ', m.group(0)))

    def return_dict(m: re.Match[str]) -> str:
        line = "    return {" + re.sub(_KEY, r'"\1"', m.group(1)) + "}"
        return _same_tree(m.group(0), line) if len(line) <= _LINE_LENGTH else m.group(0)

    shaped = _PARAMETERS.sub(table, shaped)
    shaped = _RUN_DEF.sub(_run_signature, shaped)
    return _RETURN_DICT.sub(return_dict, shaped)


def _same_tree(old: str, new: str) -> str:
    """``new`` when it is the same code as ``old`` (an indented line is parsed as it stands)."""
    try:
        same = ast.dump(ast.parse(old.strip())) == ast.dump(ast.parse(new.strip()))
    except SyntaxError:
        same = False
    return new if same else old


def _one_line_after_imports(source: str) -> str:
    """black keeps one blank line between the last import and ``PARAMETERS = ...``, not two.

    Only the code above ``PARAMETERS`` (the imports and functions cells) is parsed to find out.
    """
    found = _PARAMETERS_START.search(source)
    if found is None or not source.endswith("\n\n\n", 0, found.start()):
        return source
    above = source[: found.start() - 2]  # without the two blank lines
    try:
        body = ast.parse(above).body
    except SyntaxError:
        return source
    if not body or not isinstance(body[-1], ast.Import | ast.ImportFrom):
        return source
    if body[-1].end_lineno != above.count("\n"):
        return source  # something (a comment) stands between the import and PARAMETERS
    return above + "\n" + source[found.start() :]


def _formatted_template(template: str, name: str) -> str:
    placeholder = _PLACEHOLDER * len(name)
    text = _format_template(template, len(name))
    return text.replace(f"generated.{placeholder}", f"generated.{name}")


@functools.lru_cache(maxsize=64)
def _format_template(template: str, length: int) -> str:
    """nb2prod's own ``main()`` for a name of ``length``: black's layout of it is remembered on disk
    (keyed by black's version and the template, never by a notebook's code), like an install-time
    table: a build meets a dozen name lengths, each ~25 ms of black."""
    import black

    from nb2prod._cache import write_json

    known = _stored_templates()
    key = f"{black.__version__}:{_template_key(template, length)}"
    source = template.format(name=_PLACEHOLDER * length).strip() + "\n"
    if isinstance(known.get(key), str) and _same_tree(source, known[key]) == known[key]:
        return known[key]  # (a damaged entry is not the same code: it is formatted again)
    known[key] = black.format_str(source, mode=black.Mode())
    write_json(_TEMPLATES_FILE, known)
    return known[key]


_TEMPLATES_FILE = "templates-v1.json"


@functools.cache
def _stored_templates() -> dict[str, Any]:
    """The layouts on disk, read once a process (every name length looks them up)."""
    from nb2prod._cache import read_json

    known = read_json(_TEMPLATES_FILE)
    return known if isinstance(known, dict) else {}


def _template_key(template: str, length: int) -> str:
    import hashlib

    return f"{hashlib.sha256(template.encode()).hexdigest()[:16]}:{length}"


def uncached_template_lengths(template: str, lengths: set[int]) -> set[int]:
    """The name lengths whose ``main()`` layout is not on disk yet (read without importing black)."""
    keys = {key.split(":", 1)[1] for key in _stored_templates()}
    return {length for length in lengths if _template_key(template, length) not in keys}


# --- the head, piece by piece, remembered on disk ------------------------------------------------

# codegen joins the module's parts with two blank lines; from nb2prod's own PARAMETERS table on,
# every part is a function at column 0 (the steps, fit() and predict(), run() when it is not laid
# out above), each indented whole (a multi-line string's inside excepted).
_TABLE_END = re.compile(
    r"^(?:PARAMETERS = \{\n(?:    .*\n)*?\}|PARAMETERS: dict\[str, object\] = \{\})\n\n\n(?=def )", re.M
)
_PIECE_START = re.compile(r"\n\n\n(?=def [A-Za-z_][A-Za-z0-9_]*\()")
_COLUMN_ZERO = re.compile(r"\n(?=[^\s])")


def _format_head(head: str, mode: Any) -> str | None:
    """The module's head (all but ``run()`` and ``main()``) as black lays it out in the module, or
    None when black cannot format a piece as expected (the caller then formats the whole module).

    black lays out a function at column 0 the same wherever it stands (two blank lines before it)
    as long as it lays it out for the same Python versions, which it infers from the syntax of the
    whole module. So each piece ends in a mark that carries the syntax the whole module has (the
    f-strings of run() and main(); positional-only parameters when predict() has them) in place
    of what follows it, and the pieces go one by one only when none of them uses other syntax
    newer than Python 3.6 (:func:`_newer_syntax`); otherwise the head is one piece, as before.
    """
    pieces = _pieces(head)
    syntax = {_syntax_of(piece) for piece in pieces}
    if len(pieces) > 1 and syntax <= {"", "posonly"}:
        mark = _POSONLY_MARK if "posonly" in syntax else _VERSIONS_MARK
        prefix, table = _table_apart(pieces[0])
        pieces[0] = prefix + _TABLE_STAND_IN if table else pieces[0]
        done = _format_pieces([_preshape(piece) + "\n\n\n" + mark for piece in pieces], mark, mode)
        if table and done[0] is not None:
            if not (done[0] == _TABLE_STAND_IN or done[0].endswith("\n" + _TABLE_STAND_IN)):
                return None
            done[0] = done[0][: -len(_TABLE_STAND_IN)] + table
    else:
        whole = _preshape(head.rstrip("\n")) + "\n\n\n" + _VERSIONS_MARK
        done = [_format_piece(whole, _VERSIONS_MARK, mode)]
    if any(d is None for d in done):
        return None
    return "\n\n\n".join(done) + "\n"  # type: ignore[arg-type]


def _table_apart(piece: str) -> tuple[str, str | None]:
    """``piece`` (imports to ``PARAMETERS``) without its table, and the table in black's layout:
    the notebook's parameter values change from copy to copy and edit to edit, the code above the
    table much less, so the code is formatted (and remembered) with a stand-in for the table.
    ``(piece, None)`` when the layout is not certain (the table then goes to black with the rest).
    """
    found = _PARAMETERS_AT_END.search(piece)
    if found is None or not found.group(0).isascii() or "\\" in found.group(0):
        return piece, None
    lines = found.group(0).split("\n")
    rows = [_canonical_literals(line) for line in lines[1:-1]]
    if any(row is None or len(row) > _LINE_LENGTH or not _PARAMETER_ROW_END.search(row) for row in rows):
        return piece, None
    table = "\n".join([lines[0], *rows, lines[-1]])  # type: ignore[list-item]
    if _same_tree(found.group(0), table) != table:
        return piece, None
    return piece[: found.start()], table


_PARAMETERS_AT_END = re.compile(r"^PARAMETERS = \{\n(?:    .*,\n)+\}\Z", re.M)
_PARAMETER_ROW_END = re.compile(r'^    "[A-Za-z_][A-Za-z0-9_]*": \S.*,$')
_TABLE_STAND_IN = "PARAMETERS = {}"
_POSONLY_MARK = _VERSIONS_MARK + "\n\ndef _(a, /):\n    pass\n"


def _pieces(head: str) -> list[str]:
    """``head`` cut where nb2prod's functions start, each piece without the blank lines around it.

    A piece whose last line is at column 0 (only a string's inside or a comment can be) joins the
    next one, so no piece ends in something that may lean on what follows it.
    """
    tables = list(_TABLE_END.finditer(head))
    if not tables:
        return [head.rstrip("\n")]
    table = tables[-1]  # nb2prod's (a mistaken cut fails to format, and the module goes whole)
    rest = head[table.end() :].rstrip("\n")
    pieces = [head[: table.end() - 3]]
    for piece in _PIECE_START.split(rest):
        if pieces[-1].startswith("def ") and _LAST_AT_COLUMN_ZERO.search(pieces[-1]):
            pieces[-1] += "\n\n\n" + piece
        else:
            pieces.append(piece)
    if len(pieces) > 1 and _LAST_AT_COLUMN_ZERO.search(pieces[-1]):
        return [head.rstrip("\n")]  # the last piece ends in something that may lean on run()
    return pieces


_LAST_AT_COLUMN_ZERO = re.compile(r"\n[^\s][^\n]*\Z")


def _syntax_of(piece: str) -> str:
    """:func:`_newer_syntax` of ``piece``, remembered with the layouts (by the piece's hash)."""
    import hashlib

    key = "syntax:" + hashlib.sha256(piece.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    known = _stored_pieces().get(key)
    if isinstance(known, str):
        return known
    _stored_pieces()[key] = _fresh_pieces[key] = found = _newer_syntax(piece)
    return found


def _format_alone(text: str, mode: Any) -> str | None:
    """``text`` (a function) as black lays it out at column 0 of a module like nb2prod's."""
    return _format_piece(text + "\n\n\n" + _VERSIONS_MARK, _VERSIONS_MARK, mode)


def _format_runs(cut: Runs, mark: str, mode: Any) -> str | None:
    """A function from its runs of statements, each laid out by :func:`_format_piece` (so each is
    remembered), put back with the blank lines black keeps; None if one is not laid out as expected."""
    wrapped = [cut.head is not None or i > 0 for i in range(len(cut.runs))]
    texts = [(WRAPPER if w else "") + run + "\n\n\n" + mark for w, (_, run) in zip(wrapped, cut.runs, strict=True)]
    parts = [p if w else () for w, p in zip(wrapped, cut.parts, strict=True)]
    done = [] if cut.head is None else [cut.head]
    laid_out_runs = _format_pieces(texts, mark, mode, by_runs=False, parts=parts)
    for w, (blank, _), laid_out in zip(wrapped, cut.runs, laid_out_runs, strict=True):
        if laid_out is None or (w and not laid_out.startswith(WRAPPER)):
            return None
        done.append("\n" * blank + (laid_out[len(WRAPPER) :] if w else laid_out))
    return "\n".join(done)


def _format_pieces(
    texts: list[str], mark: str, mode: Any, *, by_runs: bool = True, parts: list[tuple[Part, ...]] | None = None
) -> list[str | None]:
    """Each of ``texts`` formatted by :func:`_format_piece`. A piece another worker of the build
    is laying out right now is left for last: notebooks in one folder share pieces, and two
    workers on two such notebooks then split black's work between them instead of doubling it."""
    done: list[str | None] = [None] * len(texts)
    later = []
    for i, text in enumerate(texts):
        if being_laid_out_elsewhere(_piece_key(text, mode)):
            later.append(i)
            continue
        done[i] = _format_piece(text, mark, mode, by_runs=by_runs, parts=parts[i] if parts else ())
        if done[i] is None:
            return done  # the caller formats the whole module
    for i in later:
        done[i] = _format_piece(texts[i], mark, mode, by_runs=by_runs, parts=parts[i] if parts else ())
    return done


def _format_piece(
    text: str, mark: str, mode: Any, *, by_runs: bool = True, parts: tuple[Part, ...] = ()
) -> str | None:
    """``text`` (ending in ``mark``) formatted, without the mark: from the cache when black laid it
    out before, else run by run (:mod:`nb2prod.generate._chunks`), from its ``parts`` (a run's)
    when some are known, or by black, and remembered; None when black does not end it with the mark."""
    import black

    key = _piece_key(text, mode)
    known = _stored_pieces().get(key)
    if isinstance(known, str):
        return known
    shared = shared_layout(key)
    if shared is not None:
        return shared
    claim_layout(key)
    runs = function_runs(text[: -len("\n\n\n" + mark)]) if by_runs and text.endswith("\n\n\n" + mark) else None
    laid_out = _format_runs(runs, mark, mode) if runs is not None else None
    if laid_out is None and len(parts) > 1:
        laid_out = _from_parts(parts, mark, mode)
    if laid_out is not None:
        _remember(key, laid_out)
        return laid_out
    try:
        formatted = black.format_str(text, mode=mode)
    except black.InvalidInput:
        return None  # a cut in the wrong place: black formats the whole module, and says why
    if not formatted.endswith("\n\n\n" + mark):
        return None
    layout = formatted[: -len("\n\n\n" + mark)]
    _remember(key, layout)
    if len(parts) > 1:  # so that a run met later with one part changed costs black that part only
        for (_, part, _), part_layout in zip(parts, split_layout(layout, parts) or (), strict=False):
            if not isinstance(_stored_pieces().get(part_key := _part_key(part, mark, mode)), str):
                _remember(part_key, WRAPPER + part_layout)
    return layout


def _from_parts(parts: tuple[Part, ...], mark: str, mode: Any) -> str | None:
    """A run's layout from its parts' (with :data:`WRAPPER`, as black writes the run), black
    laying out only the parts not known, together; None when none is known (black then lays out
    the run whole, which costs the same and teaches the parts)."""
    import black

    keys = [_part_key(text, mark, mode) for _, text, _ in parts]
    known = [_stored_pieces().get(key) for key in keys]  # (the caller's shared_layout took in the others')
    known = [k if isinstance(k, str) and k.startswith(WRAPPER) else None for k in known]
    missing = [i for i, k in enumerate(known) if k is None]
    if len(missing) == len(parts):
        return None
    if missing:
        new = tuple((0, parts[i][1], parts[i][2]) for i in missing)
        try:
            formatted = black.format_str(WRAPPER + _joined(new) + "\n\n\n" + mark, mode=mode)
        except black.InvalidInput:
            return None
        texts = split_layout(formatted[: -len("\n\n\n" + mark)], new) if formatted.endswith("\n\n\n" + mark) else None
        if texts is None:
            return None
        for i, part_layout in zip(missing, texts, strict=True):
            known[i] = WRAPPER + part_layout
            _remember(keys[i], known[i])
    return WRAPPER + _joined([(blank, k[len(WRAPPER) :], n) for (blank, _, n), k in zip(parts, known, strict=True)])  # type: ignore[index]


def _part_key(part: str, mark: str, mode: Any) -> str:
    """A part's key: the key it has when it is a run of its own."""
    return _piece_key(WRAPPER + part + "\n\n\n" + mark, mode)


def _remember(key: str, layout: str) -> None:
    _stored_pieces()[key] = _fresh_pieces[key] = layout
    share_layout(key, layout)
