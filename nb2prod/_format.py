"""black for generated modules, paid as little as possible (profiling showed black is most of a build).

Three savings, none changes a byte of the output (tests compare with plain ``black.format_str``):

* Every module ends with the same ``main()`` template, which costs black two passes (it is not written
  in black's style, and its text is part of each version's code hash, so it stays as it is). Its
  layout depends only on the length of the module name, so it is formatted once per length, with a
  placeholder name, and spliced after the formatted rest of the module.
* black makes a second pass over anything its first pass changed. The user's cells are usually
  black-clean already; what the first pass changed was nb2prod's own scaffolding (``repr``'s single
  quotes in ``PARAMETERS`` and ``run()``, ``run()``'s one-line signature). That scaffolding is handed
  to black in black's own layout, so one pass suffices; anything else black still normalises.
* Many modules are formatted in worker processes forked after black is imported (Linux, 2+ CPUs),
  like black's own ``reformat_many``, as they are generated (:class:`Formatter`).
"""

from __future__ import annotations

import ast
import functools
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

_PLACEHOLDER = "Q"
_LINE_LENGTH = 88  # black's default, which format_str(mode=black.Mode()) uses
_KEY = r"'([A-Za-z_][A-Za-z0-9_]*)'"  # a quoted identifier: black always writes it "..."
_PARAMETERS = re.compile(r"^PARAMETERS = \{\n(?:    .*\n)*?\}$", re.M)
_PARAMETER_ROW = re.compile(r"^    " + _KEY + ": ", re.M)
_RUN_DEF = re.compile(r"^def run\((.*)\) -> dict\[str, object\]:$", re.M)
_RETURN_DICT = re.compile(r"^    return \{(" + _KEY + r": \w+(?:, " + _KEY + r": \w+)*)\}$", re.M)
_MIN_PARALLEL = 6  # below this, forking workers costs more than it saves


def format_module(source: str, name: str, template: str) -> str:
    """``black.format_str(source)``, where ``source`` ends with ``template`` formatted for ``name``."""
    import black

    tail = template.format(name=name).strip() + "\n"
    mode = black.Mode()
    if not (source.endswith(tail) and name.isascii()) or "fmt:" in source or "yapf:" in source:
        return black.format_str(source, mode=mode)  # anything unusual: black sees the whole module
    head = _preshape(source[: -len(tail)].rstrip("\n") + "\n")
    return black.format_str(head, mode=mode) + "\n\n" + _formatted_template(template, name)


def _preshape(source: str) -> str:
    """nb2prod's scaffolding as black writes it; a miss here costs time, never correctness.

    Each rewritten piece must parse to the same syntax tree as before, or it is left as it was.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    shaped = _one_line_after_imports(source, tree)

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


def _one_line_after_imports(source: str, tree: ast.Module) -> str:
    """black keeps one blank line between the last import and ``PARAMETERS = ...``, not two."""
    body = tree.body
    for before, node in zip(body, body[1:], strict=False):
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "PARAMETERS":
            if not isinstance(before, ast.Import | ast.ImportFrom) or before.end_lineno is None:
                return source
            lines = source.splitlines(keepends=True)
            gap = lines[before.end_lineno : node.lineno - 1]
            if len(gap) == 2 and all(not line.strip() for line in gap):
                del lines[before.end_lineno]
                return "".join(lines)
            return source
    return source


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


def _formatted_template(template: str, name: str) -> str:
    placeholder = _PLACEHOLDER * len(name)
    text = _format_template(template, len(name))
    return text.replace(f"generated.{placeholder}", f"generated.{name}")


@functools.lru_cache(maxsize=64)
def _format_template(template: str, length: int) -> str:
    import black

    source = template.format(name=_PLACEHOLDER * length).strip() + "\n"
    return black.format_str(source, mode=black.Mode())


def format_many(jobs: Sequence[tuple[str, str]], template: str) -> Iterator[str | BaseException]:
    """Format ``(source, name)`` pairs, yielding in order the code or the exception black raised."""
    if not jobs:
        return  # `build --check` and unchanged trees never import black
    formatter = Formatter(template, expected=len(jobs))
    try:
        for source, name in jobs:
            formatter.submit(source, name)
        for index in range(len(jobs)):
            yield formatter.result(index)
    finally:
        formatter.close()


class Formatter:
    """Modules handed in one at a time, formatted by worker processes while the caller goes on.

    A build hands each module in as soon as it is generated, so black (most of a build) runs while
    the remaining notebooks are still read and analysed, and while versions are written. Workers are
    forked, after black is imported, once ``_MIN_PARALLEL`` modules are waiting; with fewer, or where
    forking is unsafe, :meth:`result` formats in this process.
    """

    def __init__(self, template: str, expected: int = 0) -> None:
        self.template = template
        self.expected = expected  # how many modules may come: sizes the pool
        self._jobs: list[tuple[str, str]] = []
        self._futures: list[Any] = []
        self._pool: Any = None
        self._serial = False

    def submit(self, source: str, name: str) -> int:
        """Queue a module; returns the index :meth:`result` takes."""
        self._jobs.append((source, name))
        if self._pool is not None:
            self._futures.append(self._pool.submit(_format_or_error, source, name, self.template))
        elif not self._serial and len(self._jobs) >= _MIN_PARALLEL:
            self._start()
        return len(self._jobs) - 1

    def result(self, index: int) -> str | BaseException:
        """The formatted module (or black's exception), waiting for its worker if need be."""
        if index < len(self._futures):
            return self._futures[index].result()
        source, name = self._jobs[index]
        return _format_or_error(source, name, self.template)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _start(self) -> None:
        workers = _workers(max(self.expected, len(self._jobs)))
        if workers <= 1:
            self._serial = True
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        import black  # noqa: F401 - imported before forking, so workers never import it again

        for length in {len(name) for _, name in self._jobs}:  # warm the cache the workers inherit
            _format_template(self.template, length)
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        for source, name in self._jobs:
            self._futures.append(self._pool.submit(_format_or_error, source, name, self.template))


def _format_or_error(source: str, name: str, template: str) -> Any:
    try:
        return format_module(source, name, template)
    except Exception as exc:  # the caller reports it with the notebook's coordinates
        return exc


def _workers(count: int) -> int:
    """Worker processes for ``count`` modules: only where fork is safe and there is a core to spare."""
    if count < _MIN_PARALLEL or not sys.platform.startswith("linux"):
        return 1
    if threading.active_count() > 1:  # forking a threaded process can deadlock the child
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cpus, count // 3))
