"""The tag grammar as data: one table of directives, their synonyms and arguments.

Like jupytext's ``formats.py``, everything that knows about tags reads :data:`DIRECTIVES`: the parser
below, the README's table and the "did you mean" hints. Tags nb2prod does not know (nbval's, nbmake's,
Kale's ``image:``) are ignored, never an error, so notebooks tagged for other tools keep working.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from nb2prod.errors import TagError

Arg = Literal["none", "name", "optional-name"]


@dataclass(frozen=True)
class Directive:
    """One row of the grammar: canonical name, accepted synonyms, and what argument it takes."""

    name: str
    synonyms: tuple[str, ...]
    arg: Arg
    meaning: str


DIRECTIVES: tuple[Directive, ...] = (
    Directive(
        "parameters",
        ("pipeline-parameters",),
        "none",
        "the parameters cell: literal assignments that become pipeline parameters",
    ),
    Directive("step", ("block",), "name", "this cell starts (or continues) pipeline step NAME"),
    Directive("after", ("prev",), "name", "extra ordering dependency on step NAME"),
    Directive("imports", (), "none", "cell goes to the module header"),
    Directive("functions", (), "none", "module-level definitions (functions, classes, constants)"),
    Directive("skip", (), "none", "never exported (exploration, plots)"),
    Directive("parity", (), "name", "VAR right after this cell is compared notebook vs pipeline"),
    Directive(
        "metric",
        ("pipeline-metrics",),
        "optional-name",
        "VAR after this cell is a metric; Kale's bare form takes the names the cell prints",
    ),
    Directive("model", (), "name", "VAR after this cell is a fitted object that `nb2prod train` saves"),
    Directive(
        "inference",
        (),
        "none",
        "this step is on the serving path; its inputs that are not models or parameters are the payload",
    ),
    Directive(
        "keep", (), "none", "export every statement of this step cell, even those no target needs"
    ),
)

_BY_SPELLING: dict[str, Directive] = {
    spelling: d for d in DIRECTIVES for spelling in (d.name, *d.synonyms)
}
_DIRECTIVE_LINE = re.compile(r"^\s*#\|\s*(?P<key>[\w-]+)\s*(?::\s*(?P<value>.*?))?\s*$")


@dataclass(frozen=True)
class CellTags:
    """What the grammar says about one cell, after synonyms are folded."""

    parameters: bool = False
    step: str | None = None
    after: tuple[str, ...] = ()
    imports: bool = False
    functions: bool = False
    skip: bool = False
    parity: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    kale_metrics: bool = False  # Kale's bare `pipeline-metrics`: names come from the cell's code
    models: tuple[str, ...] = ()  # `model:VAR`: fitted objects `nb2prod train` saves
    inference: bool = False  # the cell's step is on the serving path
    keep: bool = False  # the slice keeps every statement of the cell (a side effect it cannot see)
    ignored: tuple[str, ...] = field(default=())  # tags of other tools, kept for `build`'s listing

    @property
    def role(self) -> str | None:
        """The cell's role when it has one that excludes being part of a step."""
        for role in ("skip", "parameters", "imports", "functions"):
            if getattr(self, role):
                return role
        return None


def is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def split_directive_lines(source: str) -> tuple[list[str], str]:
    """Split ``#| key: value`` lines in a cell's leading comment block from its code.

    The block is every line before the first line of code: comments (sphinx-gallery cells open
    with prose comments), blank lines and IPython magics. Returns the directives as tag strings
    (``step:train``) and the code with those lines blanked, so line numbers inside the cell stay
    the ones the user sees. A directive after code is not read; :func:`late_directives` finds it.
    """
    lines = source.splitlines()
    tags: list[str] = []
    for i, line in enumerate(lines):
        match = _DIRECTIVE_LINE.match(line)
        if match:
            value = match.group("value")
            tags.append(f"{match.group('key')}:{value}" if value else match.group("key"))
            lines[i] = ""
        elif line.strip() and not line.lstrip().startswith(("#", "%")):
            break
    return tags, "\n".join(lines)


def late_directives(code: str) -> list[tuple[int, str]]:
    """``(line, text)`` of nb2prod directives left in ``code`` after its leading block: they come
    after code, so they are not read, and ``build`` warns rather than ignore them silently."""
    found: list[tuple[int, str]] = []
    if "#|" not in code:
        return found
    for number, line in enumerate(code.splitlines(), 1):
        match = _DIRECTIVE_LINE.match(line)
        if match and match.group("key") in _BY_SPELLING:
            found.append((number, line.strip()))
    return found


def parse_tags(raw: Iterable[str], *, path: str, cell: int) -> CellTags:
    """Fold a cell's tags (metadata tags plus ``#|`` directives) into :class:`CellTags`."""
    values: dict[str, list[str]] = {d.name: [] for d in DIRECTIVES}
    flags: set[str] = set()
    kale_metrics = False
    ignored: list[str] = []
    for tag in raw:
        tag = tag.strip()
        key, sep, value = tag.partition(":")
        directive = _BY_SPELLING.get(key.strip())
        if directive is None:
            ignored.append(tag)
            continue
        value = value.strip()
        if directive.arg == "none":
            if sep and value:
                raise TagError(
                    f"tag {tag!r} takes no argument.",
                    path=path,
                    cell=cell,
                    hint=f"write it as {directive.name!r}.",
                )
            flags.add(directive.name)
            continue
        if not value:
            if directive.arg == "optional-name" and key.strip() in directive.synonyms:
                kale_metrics = True
                continue
            raise TagError(
                f"tag {tag!r} needs a name: {directive.name}:NAME ({directive.meaning}).",
                path=path,
                cell=cell,
                hint=f"for example '{directive.name}:{'train' if directive.name in ('step', 'after') else 'y_pred'}'.",
            )
        if not is_identifier(value):
            raise TagError(
                f"{directive.name} name {value!r} in tag {tag!r} is not a Python identifier.",
                path=path,
                cell=cell,
                hint="use letters, digits and underscores, not starting with a digit "
                f"(e.g. {_suggest_identifier(value)!r}).",
            )
        values[directive.name].append(value)
    steps = sorted(set(values["step"]))
    if len(steps) > 1:
        raise TagError(
            f"the cell is tagged with {len(steps)} steps ({', '.join(steps)}); a cell belongs to one step.",
            path=path,
            cell=cell,
            hint="split the cell, or keep one step tag.",
        )
    tags = CellTags(
        parameters="parameters" in flags,
        step=steps[0] if steps else None,
        after=tuple(dict.fromkeys(values["after"])),
        imports="imports" in flags,
        functions="functions" in flags,
        skip="skip" in flags,
        parity=tuple(dict.fromkeys(values["parity"])),
        metrics=tuple(dict.fromkeys(values["metric"])),
        kale_metrics=kale_metrics,
        models=tuple(dict.fromkeys(values["model"])),
        inference="inference" in flags,
        keep="keep" in flags,
        ignored=tuple(ignored),
    )
    roles = [r for r in ("skip", "parameters", "imports", "functions") if getattr(tags, r)]
    if tags.step and roles:
        roles.append(f"step:{tags.step}")
    if tags.inference and roles and not tags.step:
        raise TagError(
            f"the cell is tagged 'inference' and {roles[0]!r}; 'inference' marks a step's cell as "
            "part of the serving path.",
            path=path,
            cell=cell,
            hint=f"remove 'inference', or tag a step cell instead of this {roles[0]} cell.",
        )
    if len(roles) > 1:
        raise TagError(
            f"the cell is tagged both {' and '.join(repr(r) for r in roles)}; those roles exclude "
            "each other.",
            path=path,
            cell=cell,
            hint="keep one of them.",
        )
    return tags


def did_you_mean(tag: str) -> str | None:
    """A known spelling close to an unknown tag, for build's listing of ignored tags."""
    key = tag.partition(":")[0]
    close = difflib.get_close_matches(key, list(_BY_SPELLING), n=1, cutoff=0.8)
    return close[0] if close and close[0] != key else None


def _suggest_identifier(value: str) -> str:
    cleaned = re.sub(r"\W+", "_", value).strip("_") or "step"
    return f"step_{cleaned}" if cleaned[0].isdigit() else cleaned


def markdown_table() -> str:
    """The grammar as the README's Markdown table (a test keeps the README in sync with it)."""

    def spell(name: str, arg: Arg) -> str:
        return (
            f"`{name}`"
            if arg == "none"
            else f"`{name}:{'VAR' if name in ('parity', 'metric', 'model') else 'NAME'}`"
        )

    rows = ["| tag | meaning | synonyms accepted |", "|---|---|---|"]
    for d in DIRECTIVES:
        synonyms = ", ".join(
            spell(s, "none" if d.arg == "optional-name" else d.arg) for s in d.synonyms
        )
        rows.append(
            f"| {spell(d.name, d.arg if d.arg != 'optional-name' else 'name')} | {d.meaning} | {synonyms or '—'} |"
        )
    return "\n".join(rows)
