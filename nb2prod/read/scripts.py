"""Reading ``.py`` files that are not jupytext percent notebooks: plain scripts and the scripts
``jupyter nbconvert --to script`` writes.

A plain script is one code cell. An nbconvert script (a Kaggle kernel's download, a course's
exported notebook) is the notebook flattened: ``# In[3]:`` before each code cell, Markdown as
``# `` comment blocks between them, cell magics as ``get_ipython().run_cell_magic(...)``. It is read
back into its cells, so its ``# ## Heading`` comments make steps as the notebook's headings did,
and a ``%%time`` cell's body is code again. Its shebang and coding lines belong to no cell.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from nb2prod.errors import NotebookError

_IN_PROMPT = re.compile(r"^# In\[[0-9 ]*\]:\s*$")
_HEADER = re.compile(r"^#!|^#.*coding[:=]")  # the shebang, and PEP 263's coding line


def is_nbconvert_script(text: str) -> bool:
    """nbconvert's script output: code cells open with ``# In[n]:`` (``# In[ ]:`` when unrun)."""
    return any(_IN_PROMPT.match(line) for line in text.splitlines())


def read_plain_script(text: str, shown: str) -> Any:
    """A plain script with no cell markers: one code cell holding the whole file (it must parse:
    a syntax error is the script's, not a cell boundary nb2prod guessed)."""
    import nbformat

    try:
        ast.parse(text)
    except SyntaxError as err:
        raise NotebookError(
            f"the script does not parse as Python: {err.msg} (line {err.lineno}).",
            path=shown,
            hint="fix the script so `python` can run it, or mark notebook cells with '# %%' lines.",
        ) from None
    nb = _notebook({"plain_script": True})
    nb.cells.append(nbformat.v4.new_code_cell(text.rstrip("\n")))
    return nb


def read_nbconvert_script(text: str) -> Any:
    """The notebook an nbconvert script was exported from: one code cell per ``# In[n]:`` marker,
    one Markdown cell per comment block between a cell's last code line and the next marker."""
    import nbformat

    lines = text.splitlines()
    for i, line in enumerate(lines[:2]):
        if _HEADER.match(line):
            lines[i] = ""
    segments: list[list[str]] = [[]]
    for line in lines:
        if _IN_PROMPT.match(line):
            segments.append([])
        else:
            segments[-1].append(line)
    nb = _notebook({"nbconvert_script": True})
    for number, segment in enumerate(segments):
        head, code, tail = _split_segment(segment, opened_by_marker=number > 0)
        nb.cells += [nbformat.v4.new_markdown_cell(block) for block in head]
        if code.strip():
            nb.cells.append(nbformat.v4.new_code_cell(unwrap_cell_magic(code)))
        nb.cells += [nbformat.v4.new_markdown_cell(block) for block in tail]
    return nb


def _split_segment(lines: list[str], *, opened_by_marker: bool) -> tuple[list[str], str, list[str]]:
    """Markdown blocks before the code (text above the first marker only), the code, and the
    Markdown blocks after its last line. A comment right under code (no blank line) is code."""
    code_lines = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not code_lines:
        return _comment_blocks(lines), "", []
    first = 0 if opened_by_marker else code_lines[0]
    last = code_lines[-1]
    while last + 1 < len(lines) and lines[last + 1].strip():  # trailing comments of the code
        last += 1
    code = "\n".join(lines[first : last + 1]).strip("\n")
    return _comment_blocks(lines[:first]), code, _comment_blocks(lines[last + 1 :])


def _comment_blocks(lines: list[str]) -> list[str]:
    """Each run of comment lines between blank lines, uncommented (nbconvert writes ``# `` before
    every Markdown line, so a Markdown cell never holds a bare blank line)."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(re.sub(r"^# ?", "", line.strip()))
        elif blocks[-1]:
            blocks.append([])
    return ["\n".join(block).strip("\n") for block in blocks if "".join(block).strip()]


def unwrap_cell_magic(code: str) -> str:
    """``get_ipython().run_cell_magic('time', '', 'body')`` as the ``%%time`` cell it was; other
    code unchanged. The kernel runs it the same way, and analysis reads the body."""
    if "run_cell_magic" not in code:
        return code
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return code
    if len(body) != 1 or not isinstance(body[0], ast.Expr) or not isinstance(body[0].value, ast.Call):
        return code
    call = body[0].value
    func = call.func
    if not (
        isinstance(func, ast.Attribute)
        and func.attr == "run_cell_magic"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
        and len(call.args) == 3
        and not call.keywords
    ):
        return code
    try:
        name, line, cell = (ast.literal_eval(arg) for arg in call.args)
    except ValueError:
        return code
    if not all(isinstance(part, str) for part in (name, line, cell)):
        return code
    return f"%%{name} {line}".rstrip() + "\n" + cell.rstrip("\n")


def _notebook(marker: dict[str, bool]) -> Any:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["nb2prod"] = marker
    return nb
