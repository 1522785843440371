"""Mask IPython syntax before analysis, so everything downstream reads real Python.

Like black's ``handle_ipynb_magics``, masking keeps line numbers: a removed line becomes blank (or
``pass`` where a block would otherwise be empty), so errors still point at the line the user sees.
Shell escapes are recorded, not removed silently: inside an exported step they are an error.
``%%writefile PATH`` is the one cell magic whose effect is plain Python: it becomes the statement
that writes the same text to the same file (so a pipeline writes the helper module its notebook
writes, before a later step imports it).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Line magics whose argument is a statement worth keeping: ``%time model.fit(X, y)`` -> the
#: statement, once. Each maps to its options in getopt's spelling (IPython's ``parse_options``; a
#: letter with ``:`` takes a value), so ``%timeit -n 1 -r 3 fit()`` keeps ``fit()``. ``%timeit``
#: runs its statement a timing-dependent number of times; the export runs it once.
TIMING_OPTIONS = {
    "time": "",  # only --no-raise-error
    "timeit": "n:r:tcp:qov:",
    "prun": "D:l:rs:T:q",
    "memit": "r:t:i:coq",  # memory_profiler
    "lprun": "rsf:m:D:T:u:",  # line_profiler
    "mprun": "rf:T:c",  # memory_profiler
}
TIMING_MAGICS = frozenset(TIMING_OPTIONS)
#: Cell magics whose body is still Python (the magic only measures or captures it).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
#: Magics that reach outside Python; in an exported step they are errors like ``!cmd``.
SHELL_MAGICS = frozenset({"pip", "conda", "mamba", "sx", "system", "sh", "bash", "script", "!"})

_LINE_MAGIC = re.compile(r"^(?P<indent>\s*)%(?P<name>\w+)\s*(?P<rest>.*)$")
_CELL_MAGIC = re.compile(r"^\s*%%(?P<name>\w+)")
_SHELL = re.compile(r"^\s*!")
_ASSIGNED_MAGIC = re.compile(r"^\s*[\w.,\s\[\]()*]+=\s*[!%]")
_WRITEFILE = re.compile(
    r"^\s*%%(?:writefile|file)\s+(?P<append>(?:-a|--append)\s+)?(?P<path>\"[^\"]*\"|'[^']*'|\S+)\s*$"
)
_HELP = re.compile(r"^\s*(\?\??[\w.]+|[\w.]+\?\??)\s*$")
_ASSIGNED_TIME = re.compile(r"^(?P<target>\s*[\w.,\s\[\]()*]+=)\s*%time\s+(?P<rest>.*)$")
#: ``get_ipython().run_line_magic('time', 'x = f()')``, ``get_ipython().system('ls')``: what
#: ``jupyter nbconvert --to script`` (and IPython's own transforms) write for magics and ``!cmd``
_GET_IPYTHON = re.compile(
    r"^(?P<indent>\s*)(?P<target>[\w.,\s\[\]()*]+=\s*)?get_ipython\(\)\s*\.\s*"
    r"(?P<call>run_line_magic|magic|system|getoutput)\((?P<args>.*)\)\s*;?\s*$"
)


@dataclass(frozen=True)
class MaskedCode:
    """A cell's code with IPython syntax masked, and what was found."""

    code: str
    shell_lines: tuple[int, ...] = ()  # 1-based lines with `!cmd`, `x = !cmd`, `%pip` ...
    foreign_magic: str | None = None  # `%%bash`, `%%html`...: the whole cell is not Python
    magic_lines: tuple[int, ...] = ()  # 1-based lines of removed magics (for the build listing)
    written_file: str | None = None  # `%%writefile PATH`: the file the cell writes


@lru_cache(maxsize=4096)
def parse_masked(code: str) -> ast.Module:
    """``ast.parse(code)``, once per text: analysis and the randomness hints read the same cells.

    The tree is shared, so callers only read it. A SyntaxError is raised (and not cached).
    """
    return ast.parse(code)


def callee(call: ast.Call) -> str:
    """The called name: ``fit`` for ``model.fit(X)``, ``print`` for ``print(x)``, else ``""``."""
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def dotted(node: ast.AST) -> str | None:
    """``np.random.seed`` for that attribute chain on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


@lru_cache(maxsize=4096)
def tree_nodes(tree: ast.AST) -> tuple[ast.AST, ...]:
    """Every node of ``tree`` in ``ast.walk`` order, once per tree: analysis and the randomness
    hints scan the same cells four times over (imports, names, generators)."""
    return tuple(all_nodes(tree))


def all_nodes(node: ast.AST) -> list[ast.AST]:
    """``list(ast.walk(node))``, the same order (breadth first), without ast.walk's generators:
    the analysis walks every statement several times."""
    found = [node]
    for each in found:  # appended to while read
        for field in each._fields:
            value = getattr(each, field, None)
            if isinstance(value, ast.AST):
                found.append(value)
            elif isinstance(value, list):
                found.extend(item for item in value if isinstance(item, ast.AST))
    return found


class QuickVisitor(ast.NodeVisitor):
    """``ast.NodeVisitor``, the same visits in the same order, without building a method name per
    node or iterating fields through generators (the analysis visits every statement)."""

    _methods: dict[type, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._methods = {}

    def visit(self, node: ast.AST) -> Any:
        method = self._methods.get(type(node))
        if method is None:
            method = getattr(type(self), "visit_" + type(node).__name__, None) or type(self).generic_visit
            self._methods[type(node)] = method
        return method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_Constant(self, node: ast.Constant) -> None:  # (not NodeVisitor's, which looks for visit_Num)
        self.generic_visit(node)


@lru_cache(maxsize=4096)  # analysis, hints and lineage all mask the same cells; the result is frozen
def mask_magics(source: str) -> MaskedCode:
    """Replace magics and help syntax with blank lines; keep every line number."""
    lines = source.splitlines()
    shell: list[int] = []
    magics: list[int] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None:
        cell_magic = _CELL_MAGIC.match(lines[first])
        writefile = _WRITEFILE.match(lines[first])
        if writefile:
            return _writefile(lines, first, writefile)
        if cell_magic:
            name = cell_magic.group("name")
            if name not in PYTHON_CELL_MAGICS:
                return MaskedCode("", foreign_magic=f"%%{name}")
            # `%%timeit -n 1 setup()`: the setup statement runs (untimed) before the body
            setup = timed_statement(name, lines[first][cell_magic.end() :]) if name == "timeit" else None
            lines[first] = setup or ""
            magics.append(first + 1)
    in_string: str | None = None
    for i, line in enumerate(lines):
        was_in_string = in_string
        in_string = _triple_quote_state(line, in_string)
        if was_in_string:
            continue
        if "get_ipython" in line:
            line = lines[i] = _as_ipython_syntax(line)
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = line[: len(line) - len(stripped)]
        filler = f"{indent}pass" if indent else ""
        if (timed := _ASSIGNED_TIME.match(line)) and (kept := timed_statement("time", timed["rest"])):
            lines[i] = f"{timed['target']} {kept}"  # `x = %time f()`: %time returns f()'s value
            magics.append(i + 1)
        elif _SHELL.match(line) or _ASSIGNED_MAGIC.match(line):
            shell.append(i + 1)
            lines[i] = filler
        elif (magic := _LINE_MAGIC.match(line)) is not None:
            name = magic.group("name")
            if name in SHELL_MAGICS:
                shell.append(i + 1)
                lines[i] = filler
            elif name in TIMING_MAGICS and (kept := timed_statement(name, magic.group("rest"))):
                lines[i] = indent + kept
                magics.append(i + 1)
            else:
                lines[i] = filler
                magics.append(i + 1)
        elif _HELP.match(line):
            lines[i] = filler
            magics.append(i + 1)
    return MaskedCode("\n".join(lines), tuple(shell), None, tuple(magics))


def timed_statement(magic: str, rest: str) -> str | None:
    """The statement a timing magic runs, after its options (``-n 1 -r 3 fit()`` -> ``fit()``);
    None when there is none, an option is unknown, or what is left is not Python (then the line
    is dropped like any other magic, and the rest of the cell is still analysed)."""
    spec = TIMING_OPTIONS[magic]
    pos = 0
    while True:
        token = re.match(r"\s*(\S*)", rest[pos:])
        assert token is not None  # \s*\S* always matches
        word, after = token.group(1), pos + token.end()
        if not word.startswith("-") or word == "-":
            break
        pos = after
        if word == "--":
            break
        if word.startswith("--"):  # %time --no-raise-error: a flag
            continue
        letters = word[1:]
        for j, letter in enumerate(letters):
            at = spec.find(letter)
            if at < 0:
                return None  # IPython's getopt rejects it too
            if spec[at + 1 : at + 2] == ":":  # takes a value: the rest of the word, or the next one
                if j == len(letters) - 1:
                    value = re.match(r"\s*\S+", rest[pos:])
                    pos += value.end() if value else 0
                break
    statement = rest[pos:].strip()
    if not statement:
        return None
    try:
        ast.parse(statement)
    except SyntaxError:
        return None
    return statement


def _as_ipython_syntax(line: str) -> str:
    """A line calling ``get_ipython()`` for a magic or a shell command, as the ``%magic`` or
    ``!cmd`` it stands for (so it is masked the same way); other lines unchanged."""
    match = _GET_IPYTHON.match(line)
    if match is None:
        return line
    try:
        call = ast.parse(f"f({match['args']})", mode="eval").body
        assert isinstance(call, ast.Call) and not call.keywords
        args = [ast.literal_eval(a) for a in call.args]
    except (SyntaxError, ValueError, AssertionError):
        return line
    if not args or not all(isinstance(a, str) for a in args):
        return line
    target = match["target"] or ""
    if match["call"] in ("system", "getoutput"):
        return f"{match['indent']}{target}!{args[0]}"
    name, *rest = args[0].split(" ", 1) if match["call"] == "magic" else args[:2]
    return f"{match['indent']}{target}%{name} {' '.join(rest)}".rstrip()


def _writefile(lines: list[str], first: int, match: re.Match[str]) -> MaskedCode:
    """``%%writefile [-a] PATH`` as the Python that writes the cell's body to PATH, on the same lines."""
    path = match.group("path")
    if path[:1] in "'\"" and path[-1:] == path[:1]:
        path = path[1:-1]
    body = "\n".join(lines[first + 1 :])
    body += "" if body.endswith("\n") else "\n"  # IPython hands the magic the cell with its newline
    mode = "a" if match.group("append") else "w"
    head = f'with open({path!r}, {mode!r}, encoding="utf-8") as _nb2prod_file: _nb2prod_file.write('
    code = [""] * first
    if "\\" in body or "'''" in body:  # not verbatim in a triple-quoted string: one line instead
        code += [f"{head}{body!r})"] + [""] * (len(lines) - first - 1)
    else:  # the body verbatim on its own lines: it reads like the module, and line numbers stay
        code.append(f"{head}'''\\\n{body}''')")
    return MaskedCode("\n".join(code), magic_lines=(first + 1,), written_file=path)


def _triple_quote_state(line: str, state: str | None) -> str | None:
    """Track whether a triple-quoted string is open after ``line`` (a cheap, line-based scan)."""
    i = 0
    while i < len(line):
        if state is None:
            if line[i] == "#":
                return None
            for quote in ('"""', "'''"):
                if line.startswith(quote, i):
                    state = quote
                    i += 3
                    break
            else:
                if line[i] in "\"'":
                    i = _skip_short_string(line, i)
                else:
                    i += 1
        else:
            end = line.find(state, i)
            if end < 0:
                return state
            state = None
            i = end + 3
    return state


def _skip_short_string(line: str, start: int) -> int:
    quote = line[start]
    i = start + 1
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == quote:
            return i + 1
        i += 1
    return i
