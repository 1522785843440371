"""What a callee says about its own randomness: the real signature, and its numpydoc.

``randomness.py`` finds the calls; this module answers, per callee, whether a call leaves
``random_state`` unset while the callee would use it. The module that defines a callee is imported
only when a call to it exists (and, for cells the pipeline never runs, only when the exported code
already loaded it). Importing scikit-learn costs seconds, so the answers are also kept, like black's
cache, in ``$XDG_CACHE_HOME/nb2prod`` (or ``$NB2PROD_CACHE_DIR``), keyed by the installed
package's location and file time: the next build asks the cache and imports nothing.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_NOT_DRAWS = frozenset({"seed", "get_state", "set_state", "getstate", "setstate"})


@dataclass(frozen=True)
class Callee:
    position: int | None  # index of random_state among positional parameters, if it can be positional
    defaults: dict[str, Any]  # parameter -> default, for the doc conditions
    order: tuple[str, ...]  # positional parameter names, in order
    conditions: tuple[tuple[str, str, frozenset[Any]], ...]  # (param, "in" | "not in", values)


_CACHE_FORMAT = 3  # 2: shuffle conditions, documented defaults behind deprecation sentinels;
# 3: fixed seeds when None (LightGBM), "Used when ``x is not None``" (silhouette_score)
_MISSING = object()


@cache
def random_state_callee(qualified: str) -> Callee | None:
    """The callee's random_state facts, or None when it takes none (or defaults to a fixed seed)."""
    key = _cache_key(qualified)
    if key is not None:
        hit = _disk_cache().get(key, _MISSING)
        if hit is not _MISSING:
            return _decode(hit)
    found, final = _inspect_callee(qualified)
    if key is not None and final:
        _remember(key, _encode(found))
    return found


def is_known(qualified: str) -> bool:
    """Answerable without importing anything: in this process's or the on-disk cache."""
    key = _cache_key(qualified)
    return key is not None and key in _disk_cache()


def _inspect_callee(qualified: str) -> tuple[Callee | None, bool]:
    """(facts, whether they are worth caching: the callee was imported and inspected)."""
    import inspect

    obj = import_object(qualified)
    if obj is None or not callable(obj):
        return None, obj is not None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None, True
    param = sig.parameters.get("random_state")
    if param is None or param.default is not None:
        return None, True
    positional = [
        p.name for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("self", "cls")
    ]
    position = positional.index("random_state") if "random_state" in positional else None
    doc = _parameters_doc(obj)
    if _fixed_when_none(doc):
        return None, True  # LightGBM: "If None, default seeds in C++ code are used."
    conditions = doc_conditions(doc, set(sig.parameters))
    defaults = {
        name: doc_default(doc, name, sig.parameters[name].default) for name, _, _ in conditions
        if sig.parameters[name].default is not inspect.Parameter.empty
    }
    return Callee(position, defaults, tuple(positional), conditions), True


def _parameters_doc(obj: Any) -> str:
    """The docstring that documents the parameters: a class's own, or its ``__init__``'s
    (LightGBM's estimators document them there)."""
    import inspect

    doc = inspect.getdoc(obj) or ""
    if "random_state" not in doc and inspect.isclass(obj):
        doc = inspect.cleandoc(getattr(obj.__init__, "__doc__", None) or "") or doc
    return doc


def _fixed_when_none(doc: str) -> bool:
    """The ``random_state`` paragraph says None means fixed default seeds, not fresh entropy."""
    text = _random_state_paragraph(doc)
    return bool(text and re.search(r"\bIf None, (?:the )?default seeds?\b[^.]*\bused\b", text))


def _encode(callee: Callee | None) -> Any:
    if callee is None:
        return None
    return {
        "position": callee.position,
        "defaults": callee.defaults,
        "order": list(callee.order),
        "conditions": [[p, op, sorted(v, key=repr)] for p, op, v in callee.conditions],
    }


def _decode(data: Any) -> Callee | None:
    if not isinstance(data, dict):
        return None
    return Callee(
        data["position"],
        dict(data["defaults"]),
        tuple(data["order"]),
        tuple((p, op, frozenset(v)) for p, op, v in data["conditions"]),
    )


def _cache_file() -> Path:
    from nb2prod._cache import cache_dir

    return cache_dir() / f"random-state-v{_CACHE_FORMAT}.json"


@cache
def _install_stamp(top: str) -> str | None:
    """Where the top-level package lives and when its ``__init__`` was written: an upgrade or a
    reinstall changes it. Found without importing the package."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    if not origin or not os.path.isfile(origin):
        return None
    return f"{origin}:{os.stat(origin).st_mtime_ns}"


def _cache_key(qualified: str) -> str | None:
    """``name@path:mtime`` of the installed package; None for built-in or namespace modules."""
    stamp = _install_stamp(qualified.split(".")[0])
    return f"{qualified}@{stamp}" if stamp else None


def warm_cache() -> None:
    """Read the on-disk answers now (processes forked afterwards inherit them)."""
    _disk_cache()


@cache
def _disk_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(key: str, value: Any) -> None:
    """Add one answer to the on-disk cache (merged with what other builds wrote meanwhile)."""
    _disk_cache()[key] = value
    path = _cache_file()
    try:
        json.dumps(value)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            current = {}
        current = {**(current if isinstance(current, dict) else {}), key: value}
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(current, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        pass  # a cache that cannot be written only costs time


def is_loaded(qualified: str) -> bool:
    import sys

    parts = qualified.split(".")
    return any(".".join(parts[:i]) in sys.modules for i in range(len(parts) - 1, 0, -1))


def import_object(qualified: str) -> Any:
    """Import the longest importable module prefix of ``qualified`` and walk the rest."""
    import importlib
    import importlib.util
    import warnings

    parts = qualified.split(".")
    try:
        if importlib.util.find_spec(parts[0]) is None:
            return None
    except (ImportError, ValueError):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(len(parts) - 1, 0, -1):
            try:
                obj: Any = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            except BaseException:  # a module that fails to import is not ours to report here
                return None
            try:
                for attr in parts[i:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                return None
            return obj
    return None


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_VALUES_WHEN = re.compile(
    r"^(?:Only used|Used)\b[^.]*?\b(?:when|for|if)\s+`{1,2}(\w+)`{1,2}\s*(?:==|equals|is)\s*"
    r"((?:'[^']*'(?:\s*,\s*|\s+or\s+)?)+)"
)
_IGNORED_WHEN = re.compile(r"^Ignored when `{1,2}(\w+)`{1,2} is `{0,2}(True|False)`{0,2}")
_ONLY_WHEN = re.compile(
    r"^(?:When|Used when|Used\b[^.]*?, when)\s+`{1,2}(\w+)`{1,2} is (?:set to )?`{0,2}(True|False)`{0,2}"
)


_NOT_NONE_WHEN = re.compile(r"^(?:Only used|Used) when `{1,2}(\w+) is not None`{1,2}")


def _random_state_paragraph(doc: str) -> str:
    """The ``random_state`` entry of a numpydoc Parameters section, on one line ('' if none)."""
    match = re.search(r"^random_state\s*:[^\n]*\n((?:[ \t]+[^\n]*\n?|[ \t]*\n)+)", doc, re.M)
    return " ".join(match.group(1).split()) if match else ""


def doc_conditions(doc: str, params: set[str]) -> tuple[tuple[str, str, frozenset[Any]], ...]:
    """When the ``random_state`` paragraph says the seed is only used under one condition."""
    text = _random_state_paragraph(doc)
    if not text:
        return ()
    found: list[tuple[str, str, frozenset[Any]]] = []
    for sentence in _SENTENCE.split(text):
        if sentence.count(" when ") + sentence.count("(when ") > 1 or ", and " in sentence:
            continue
        if m := _VALUES_WHEN.match(sentence):
            found.append((m.group(1), "in", frozenset(re.findall(r"'([^']*)'", m.group(2)))))
        elif m := _IGNORED_WHEN.match(sentence):
            found.append((m.group(1), "not in", frozenset({m.group(2) == "True"})))
        elif m := _ONLY_WHEN.match(sentence):
            found.append((m.group(1), "in", frozenset({m.group(2) == "True"})))
        elif m := _NOT_NONE_WHEN.match(sentence):
            found.append((m.group(1), "not in", frozenset({None})))
    if not found and "shuffle" in params and _only_shuffles(text):
        found.append(("shuffle", "in", frozenset({True})))  # train_test_split(..., shuffle=False)
    found = [c for c in found if c[0] in params]
    return tuple(found) if len(found) == 1 else ()  # two conditions: too clever to trust


def _only_shuffles(text: str) -> bool:
    """The seed's one documented use is shuffling ("Controls the shuffling applied to the data
    before applying the split"), and the callee has a ``shuffle`` switch."""
    first = _SENTENCE.split(text)[0].lower()
    others = ("initiali", "bootstrap", "sampling", "weights", "feature", "noise")
    return "shuffl" in first and not any(word in text.lower() for word in others)


def doc_default(doc: str, name: str, default: Any) -> Any:
    """The documented default when the signature holds a placeholder string (SVC's
    ``probability='deprecated'`` is documented as ``default=False``)."""
    if not isinstance(default, str):
        return default
    match = re.search(rf"^{re.escape(name)}\s*:[^\n]*\bdefault=([^\s,]+)", doc, re.M)
    if not match:
        return default
    known, value = _literal(ast.parse(match.group(1), mode="eval").body) if _parses(match.group(1)) \
        else (False, None)
    return value if known and not isinstance(value, str) else default


def _parses(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def passes_random_state(node: ast.Call, callee: Callee) -> bool:
    for k in node.keywords:
        if k.arg is None:  # **kwargs may carry it
            return True
        if k.arg == "random_state":
            return not literal_none(k.value)
    if any(isinstance(a, ast.Starred) for a in node.args):
        return True
    return callee.position is not None and len(node.args) > callee.position and not literal_none(
        node.args[callee.position]
    )


def seed_used(node: ast.Call, callee: Callee) -> bool:
    """False only when the callee's own docs say random_state is unused with these arguments."""
    for param, op, values in callee.conditions:
        known, value = _argument(node, callee, param)
        if not known:
            return True
        try:
            inside = value in values
        except TypeError:
            return True
        if inside != (op == "in"):
            return False
    return True


def _argument(node: ast.Call, callee: Callee, param: str) -> tuple[bool, Any]:
    """(is it known, its value): a literal keyword or positional argument, or the default."""
    for k in node.keywords:
        if k.arg == param:
            return _literal(k.value)
    if param in callee.order and callee.order.index(param) < len(node.args):
        return _literal(node.args[callee.order.index(param)])
    return (param in callee.defaults, callee.defaults.get(param))


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def literal_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def first_arg(node: ast.Call) -> ast.expr | None:
    if node.args:
        return node.args[0]
    return node.keywords[0].value if node.keywords else None


@cache
def draws_from_global(module: str, name: str) -> bool:
    """A module function bound to the hidden global generator (numpy's ``_rand``, ``random._inst``)."""
    if name in _NOT_DRAWS or name.startswith("_"):
        return False
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    owner = getattr(getattr(mod, "mtrand", None), "_rand", None) if module == "numpy.random" else getattr(
        mod, "_inst", None
    )
    return owner is not None and getattr(getattr(mod, name, None), "__self__", None) is owner
