"""Parameter values from the command line and from YAML files, typed like the notebook's defaults.

``-p alpha 0.3`` arrives as the string ``"0.3"``; the parameters cell says ``alpha = 0.1``, so the
value is a float. Typing here (not in papermill) means the notebook and the generated pipeline get
the same Python value, and a typo fails before any kernel starts. Imports nothing heavy: pyyaml
loads only when a parameter file is read.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nb2prod.errors import UsageError

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}

#: The set id of a run with no parameters given.
DEFAULTS_ID = "defaults"


def _bad(name: str, raw: str, expected: str, default: Any) -> UsageError:
    return UsageError(
        f"parameter '{name}' expects {expected} (its default is {default!r}), got {raw!r}.",
        hint=f"pass a value like {default!r}.",
    )


def _literal(raw: str) -> Any:
    """``ast.literal_eval``, or a sentinel when the text is not a Python literal."""
    try:
        return ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOT_LITERAL


_NOT_LITERAL = object()


def coerce(name: str, raw: str, default: Any) -> Any:
    """Type the command-line string ``raw`` like ``default``, the value in the parameters cell.

    bool accepts true/false/1/0/yes/no (any case); int and float parse as Python numbers (an int
    default takes a float too, as the manifest's ``int | float`` says); str is
    kept verbatim; a ``None`` default takes any Python literal and falls back to the string; list,
    tuple, dict and other literal types go through ``ast.literal_eval`` (``64,32`` is a fine list).
    Raises :class:`UsageError` naming the parameter when the text does not fit.
    """
    if not isinstance(raw, str):
        raise TypeError(f"coerce() takes the raw string, got {type(raw).__name__}")
    text = raw.strip()
    if isinstance(default, bool):  # before int: bool is an int
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise _bad(name, raw, "a boolean (true/false, yes/no, 1/0)", default)
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            pass
        try:  # an int parameter widens to float: `-p test_size 0.5` where the default is 20
            return float(text)
        except ValueError:
            raise _bad(name, raw, "an integer (or a float, which widens it)", default) from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise _bad(name, raw, "a number", default) from None
    if isinstance(default, str):
        return raw
    if default is None:
        value = _literal(text)
        return raw if value is _NOT_LITERAL else value
    value = _literal(text)
    kind = type(default)
    if isinstance(default, list) and isinstance(value, tuple):
        value = list(value)  # "1,2,3" parses as a tuple
    elif isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)
    if value is _NOT_LITERAL or not isinstance(value, kind):
        raise _bad(name, raw, f"a Python {kind.__name__} literal", default)
    return value


def resolve(
    raw: Mapping[str, str | Any], defaults: Mapping[str, Any], *, source: str
) -> dict[str, Any]:
    """Check names against the parameters cell and type every string value.

    Only the given parameters are returned (the others keep their defaults in both the notebook and
    the pipeline). Values that are not strings (from YAML) pass through, except that an int for a
    float default becomes a float, so the notebook sees the type its author wrote.
    """
    unknown = [name for name in raw if name not in defaults]
    if unknown:
        known = ", ".join(defaults) if defaults else "none (this notebook has no parameters cell)"
        first = unknown[0]
        close = difflib.get_close_matches(first, list(defaults), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "pass only the parameters listed."
        names = ", ".join(f"'{n}'" for n in unknown)
        raise UsageError(
            f"unknown parameter {names}; the parameters cell defines: {known}.",
            path=source,
            hint=hint,
        )
    resolved: dict[str, Any] = {}
    for name, value in raw.items():
        default = defaults[name]
        if isinstance(value, str):
            try:
                resolved[name] = coerce(name, value, default)
            except UsageError as err:
                raise UsageError(err.reason, path=source, hint=err.hint) from None
        elif isinstance(default, float) and type(value) is int:
            resolved[name] = float(value)
        else:
            resolved[name] = value
    return resolved


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def param_id(params: Mapping[str, Any]) -> str:
    """A readable id for reports: ``defaults``, or ``alpha=0.3,n=5`` in the order given."""
    if not params:
        return DEFAULTS_ID
    return ",".join(f"{k}={_format_value(v)}" for k, v in params.items())


def param_hash(params: Mapping[str, Any]) -> str:
    """8 hex chars of sha256 over canonical JSON: a file-name-safe key for one parameter set."""
    text = json.dumps(dict(params), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _as_set(value: Any, path: Path, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(
            f"{where} must be a mapping of parameter names to values, got {type(value).__name__}.",
            path=str(path),
        )
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise UsageError(f"{where}: parameter names must be strings: {bad[0]!r}.", path=str(path))
    return dict(value)


def _is_named_sets(data: dict[Any, Any]) -> bool:
    """``{sets: {name: {...}}}``; a lone parameter called ``sets`` with a scalar value is not."""
    if set(data) != {"sets"}:
        return False
    sets = data["sets"]
    return isinstance(sets, dict) and all(v is None or isinstance(v, dict) for v in sets.values())


def load_param_sets(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """Read parameter sets from YAML: one mapping, a list of mappings, or ``sets: {name: mapping}``.

    Returns ``(set id, parameters)`` pairs; the id is the set's name, or :func:`param_id` of its
    values. Values stay as YAML typed them; :func:`resolve` checks them against the notebook.
    """
    import yaml  # lazy: only parameter files need it

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot read parameter file: {err.strerror}.", path=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err)
        raise UsageError(f"invalid YAML: {problem}.", path=str(path), line=line) from None

    sets: list[tuple[str, dict[str, Any]]]
    if data is None:
        raise UsageError("the parameter file is empty.", path=str(path))
    if isinstance(data, list):
        sets = []
        for i, item in enumerate(data):
            values = _as_set(item, path, f"item {i}")
            sets.append((param_id(values), values))
    elif isinstance(data, dict) and _is_named_sets(data):
        sets = [
            (str(name), _as_set(values, path, f"set '{name}'"))
            for name, values in data["sets"].items()
        ]
    elif isinstance(data, dict):
        values = _as_set(data, path, "the file")
        sets = [(param_id(values), values)]
    else:
        raise UsageError(
            "a parameter file holds a mapping, a list of mappings, or 'sets:' mapping names to "
            f"mappings; got {type(data).__name__}.",
            path=str(path),
        )
    if not sets:
        raise UsageError("the parameter file defines no parameter sets.", path=str(path))
    seen: set[str] = set()
    for set_id, _ in sets:
        if set_id in seen:
            raise UsageError(f"parameter set '{set_id}' appears twice.", path=str(path))
        seen.add(set_id)
    return sets
