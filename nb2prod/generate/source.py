"""Text pieces that every generated function is written with: parameter arguments and indentation.

Shared by ``codegen`` (steps, ``run()``) and ``fit_predict`` (``fit()``, ``predict()``).
"""

from __future__ import annotations

import io
import re
import tokenize

from nb2prod.analyse.plan import Parameter

SIMPLE_TYPES = frozenset({"int", "float", "str", "bool", "list", "dict", "tuple"})
MUTABLE_TYPES = frozenset({"list", "dict", "set"})


def signature_argument(p: Parameter) -> str:
    if p.type_name in MUTABLE_TYPES:
        return f"{p.name}: {p.type_name} | None = None"
    if p.type_name in SIMPLE_TYPES:
        return f"{p.name}: {p.type_name} = {p.literal}"
    return f"{p.name}={p.literal}"


def indent(code: str, prefix: str = "    ") -> str:
    """Indent code one level without touching the inside of multi-line strings."""
    protected = _string_continuation_lines(code)
    return "\n".join(
        prefix + line if line.strip() and i not in protected else line
        for i, line in enumerate(code.splitlines(), 1)
    )


_MAY_SPAN_LINES = re.compile(r"\"\"\"|'''|\\\n|\b[rRbB]?[fF][rR]?['\"]")


def _string_continuation_lines(code: str) -> set[int]:
    if not _MAY_SPAN_LINES.search(code):
        return set()  # only triple quotes, a backslash-newline or (3.12) an f-string span lines
    string_types = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    lines: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in string_types and tok.end[0] > tok.start[0]:
                lines.update(range(tok.start[0] + 1, tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass  # code was parsed by ast already; a tokenizer quirk must not stop the build
    return lines
