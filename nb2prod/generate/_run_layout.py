"""nb2prod's own ``run()`` written in black's layout, so black need not read it (``_format``).

``run()`` is made of nb2prod's own lines around names and the parameters' literals: its signature,
the unknown-parameter check, one call per step and the returned dict. black lays such lines out by
a few fixed rules (one line when it fits; else split at the last bracket, the inside on one line
when it fits, else one item a line with a trailing comma; a dict literal is always one item a line).
Whatever is not one of those shapes is left to black.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable

_LINE_LENGTH = 88  # black's default, which format_str(mode=black.Mode()) uses
_RUN_DEF = re.compile(r"^def run\((.*)\) -> dict\[str, object\]:$", re.M)


def _run_as_black_writes_it(text: str, format_piece: Callable[[str], str | None] | None = None) -> str | None:
    """nb2prod's ``run()`` in black's layout, or None when only black itself can say.

    ``run()`` is nb2prod's own code around names (identifiers) and the parameters' literals (as
    ``ast.unparse`` writes them): a third of what black would read. The layout black gives it is
    written here directly; anything this cannot lay out with certainty (a literal beyond plain
    numbers and strings in brackets, a line it cannot split as black would, a name beyond ASCII)
    returns None, and black formats ``run()`` with the rest. The notebook's own statements at the
    start (its seeding, warnings and options) go to ``format_piece`` (black, remembered by their
    text) on their own: see :func:`_configuration_as_black_writes_it`. Tests compare with
    ``black.format_str``.
    """
    if not text.isascii() or "\\" in text:
        return None
    lines = text.rstrip("\n").split("\n")
    if len(lines) < 8 or any(lines[i] != fixed for i, fixed in _RUN_FIXED_LINES.items()):
        return None
    if not (lines[5].startswith('            "known parameters: ') and lines[5].count('"') == 2):
        return None
    signature = _canonical_literals(lines[0])
    signature = _run_signature_text(signature) if signature is not None else None
    if signature is None or any(len(line) > _LINE_LENGTH for line in lines[1:5]):
        return None
    ours: list[str | None] = []
    for line in lines[7:]:
        shaped = _canonical_literals(line)
        ours.append(_statement_as_black_writes_it(shaped) if shaped is not None else None)
    start = next((i for i in range(len(ours), 0, -1) if ours[i - 1] is None), 0)  # the notebook's
    if not ours[start:]:
        return None
    body = lines[1:7]  # a long "known parameters: ..." string is left long by black too
    if start:
        configuration = _configuration_as_black_writes_it(lines[7 : 7 + start], format_piece)
        if configuration is None:
            return None
        body += configuration
    return "\n".join([signature, *body, *ours[start:]]) + "\n"  # type: ignore[list-item]


def _configuration_as_black_writes_it(
    lines: list[str], format_piece: Callable[[str], str | None] | None
) -> list[str] | None:
    """The notebook's statements at the start of ``run()`` as black lays them out there, or None
    (anything but simple statements, syntax that changes the versions black infers)."""
    from nb2prod.generate._black_features import _newer_syntax

    if format_piece is None:
        return None
    code = "\n".join(lines)
    try:
        block = ast.parse("if 1:\n" + code).body[0].body  # type: ignore[attr-defined]
    except SyntaxError:
        return None
    if not all(isinstance(node, _SIMPLE_STATEMENTS) for node in block):
        return None
    if _newer_syntax(textwrap.dedent(code)):
        return None
    laid_out = format_piece(f"{_CONFIGURATION_BEFORE}\n{code}\n{_CONFIGURATION_AFTER}")
    head, tail = _CONFIGURATION_BEFORE + "\n", "\n" + _CONFIGURATION_AFTER
    if laid_out is None or not (laid_out.startswith(head) and laid_out.endswith(tail)):
        return None
    return laid_out[len(head) : -len(tail)].split("\n")


_RUN_START = "\n\n\ndef run("
_RUN_FIXED_LINES = {  # codegen._run_function's own lines, by their place in run()
    1: '    """Run the steps in order; return the parity and metric values by variable name."""',
    2: "    if unknown:",
    3: "        raise TypeError(",
    4: "            f\"run() got unknown parameter(s) {', '.join(sorted(unknown))}; \"",
    6: "        )",
}

# The notebook's statements go to black between run()'s own opening and a stand-in for the first
# step call: the same neighbours as in run(), so black gives them the same lines and blank lines.
_CONFIGURATION_BEFORE = "\n".join([
    "def run(**unknown) -> dict[str, object]:",
    *(_RUN_FIXED_LINES.get(i, '            "known parameters: "') for i in range(1, 7)),
])
_CONFIGURATION_AFTER = "    _ = _()"
_SIMPLE_STATEMENTS = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Pass, ast.Delete)
_LITERAL_TOKEN = re.compile(
    r"""(?P<string>'[^'"]*'|"[^'"]*")"""  # a string without quotes or escapes inside
    r"|(?P<number>(?<![\w.])-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:e-[0-9]+)?(?![\w.]))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|->|[()\[\],:=*{}|]|\s+|\.)"
)


def _canonical_literals(line: str) -> str | None:
    """``line`` with its strings in double quotes, or None if it holds anything else to normalise."""
    out, pos = [], 0
    while pos < len(line):
        m = _LITERAL_TOKEN.match(line, pos)
        if m is None:
            return None
        token = m.group(0)
        if m.group("string"):
            token = '"' + token[1:-1] + '"'
        elif m.group("op") and token.isspace() and token != " " and pos != 0:
            return None  # only single spaces between tokens, as black writes them
        out.append(token)
        pos = m.end()
    text = "".join(out)
    if re.search(r"(?<! )\||\|(?! )", text):
        return None  # ``dict | None`` as black writes it, with a space either side
    if re.search(r",\s*[)\]}]", text) and not re.search(r"\(\w+,\)|\(\"[^\"]*\",\)", text):
        return None  # a trailing comma black would treat as magic
    return text


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NAMES = rf"{_NAME}(?:, {_NAME})*"
_ITEM = rf'"{_NAME}": {_NAME}'
_STEP_CALL = re.compile(rf"    (?P<head>(?:{_NAMES} = )?{_NAME}\()(?P<inside>{_NAMES})?\)")
_RETURN = re.compile(rf"    return \{{(?P<inside>{_ITEM}(?:, {_ITEM})*)?\}}")
_DEFAULT = re.compile(rf"    (?P<name>{_NAME}) = (?P<literal>.+) if (?P=name) is None else (?P=name)")


def _statement_as_black_writes_it(line: str) -> str | None:
    """One of nb2prod's statements in ``run()`` (a step call, a mutable default, the returned
    dict) in black's layout, or None for any other statement or a split black would make
    differently (a head too long, an item too long)."""
    default = _DEFAULT.fullmatch(line)
    if default is not None:
        literal = default.group("literal")
        try:  # the literal as ast.unparse writes it, which is black's spacing
            same = _canonical_literals(ast.unparse(ast.parse(literal, mode="eval"))) == literal
        except SyntaxError:
            same = False
        return line if same and len(line) <= _LINE_LENGTH else None
    call = _STEP_CALL.fullmatch(line) or _RETURN.fullmatch(line)
    if call is None:
        return None
    if len(line) <= _LINE_LENGTH:
        return line
    inside = call.group("inside")
    if not inside:
        return None
    head, closer = ("    " + call.group("head"), ")") if call.re is _STEP_CALL else ("    return {", "}")
    items = inside.split(", ")
    one_line = "        " + inside
    if len(head) > _LINE_LENGTH:
        return None
    if len(one_line) <= _LINE_LENGTH and (call.re is _STEP_CALL or len(items) == 1):
        return f"{head}\n{one_line}\n    {closer}"
    if len(items) == 1:
        return None  # one item too long: black leaves it long, a case left to black itself
    rows = [f"        {item}," for item in items]  # black's trailing comma, and a dict always
    if any(len(row) > _LINE_LENGTH for row in rows):
        return None
    return "\n".join([head, *rows, f"    {closer}"])


def _run_signature_text(line: str) -> str | None:
    """The ``def run(...)`` line in black's layout (see :func:`_run_signature`), or None."""
    if _RUN_DEF.fullmatch(line) is None:
        return None
    shaped = _RUN_DEF.sub(_run_signature, line)
    if shaped == line and len(line) > _LINE_LENGTH:
        return None
    if any(len(part) > _LINE_LENGTH for part in shaped.split("\n")):
        return None
    return shaped


def _run_signature(m: re.Match[str]) -> str:
    """``def run(...)`` laid out like black: one line, the arguments on one line, or one per line."""
    line = m.group(0)
    if len(line) <= _LINE_LENGTH:
        return line
    try:
        args = ast.parse(line + "\n    pass").body[0].args  # type: ignore[attr-defined]
    except (SyntaxError, IndexError, AttributeError):
        return line
    inner = m.group(1)
    parts = _split_arguments(inner, args)
    if parts is None:
        return line
    if len("    " + inner) <= _LINE_LENGTH:
        shaped = f"def run(\n    {inner}\n) -> dict[str, object]:"
    else:
        body = "".join(f"    {part},\n" for part in parts)
        shaped = f"def run(\n{body}) -> dict[str, object]:"
    try:  # the same signature, or the line as it was
        same = ast.dump(ast.parse(shaped + "\n    pass").body[0].args) == ast.dump(args)
    except SyntaxError:
        same = False
    return shaped if same else line


def _split_arguments(inner: str, args: ast.arguments) -> list[str] | None:
    """The comma-separated pieces of a signature, or None when they cannot be told apart safely."""
    pieces, depth, start, quote = [], 0, 0, ""
    for i, char in enumerate(inner):
        if quote:
            quote = "" if char == quote and inner[i - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(inner[start:i].strip())
            start = i + 1
    pieces.append(inner[start:].strip())
    expected = len(args.kwonlyargs) + len(args.args) + bool(args.kwarg) + bool(args.vararg)
    expected += 1 if args.kwonlyargs and not args.vararg else 0  # the bare "*"
    return pieces if len(pieces) == expected and all(pieces) else None
