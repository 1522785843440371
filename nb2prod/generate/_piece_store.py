"""black's layouts of module pieces, remembered on disk between builds (see ``_format._format_head``).

Keyed like black's own cache (black's version, its mode's key, the text's hash). A process reads the
file once; what it learns is handed back by a build's workers and written once, by the parent.
"""

from __future__ import annotations

import functools
from typing import Any


def _piece_key(text: str, mode: Any) -> str:
    """Keyed like black's own cache: black's version, the mode's cache key, the text's hash."""
    import hashlib

    import black

    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{black.__version__}:{mode.get_cache_key()}:{digest}"


_PIECES_FILE = "black-pieces-v1.json"
_PIECES_KEPT = 4000  # ~1-3 KB each; the oldest go first
_fresh_pieces: dict[str, str] = {}


@functools.cache
def _stored_pieces() -> dict[str, Any]:
    """The layouts on disk, read once a process (a worker reads them before its first notebook)."""
    from nb2prod._cache import read_json

    known = read_json(_PIECES_FILE)
    return known if isinstance(known, dict) else {}


def warm_pieces() -> None:
    """Read the remembered layouts now (a build's workers do, before their first notebook)."""
    _stored_pieces()


def take_fresh_pieces() -> dict[str, str]:
    """The layouts black made in this process since the last call (a worker hands them back)."""
    fresh = dict(_fresh_pieces)
    _fresh_pieces.clear()
    return fresh


def remember_pieces(fresh: dict[str, str]) -> None:
    """Add ``fresh`` to the layouts on disk, in one write, keeping the newest ``_PIECES_KEPT``."""
    from nb2prod._cache import read_json, write_json

    if not fresh:
        return
    known = read_json(_PIECES_FILE)
    known = known if isinstance(known, dict) else {}
    for key in fresh:
        known.pop(key, None)
    known.update(fresh)
    if len(known) > _PIECES_KEPT:
        known = dict(list(known.items())[-_PIECES_KEPT:])
    write_json(_PIECES_FILE, known)
