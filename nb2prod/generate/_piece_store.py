"""black's layouts of module pieces, remembered on disk between builds (see ``_format._format_head``).

Keyed like black's own cache (black's version, its mode's key, the text's hash). A process reads the
file once; what it learns is handed back by a build's workers and written once, by the parent.
During a build the workers also hand each other what black just laid out (:func:`shared_pieces`):
notebooks in one folder share helpers, imports and steps, and without it every worker would pay
black for each of them once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any


def _piece_key(text: str, mode: Any) -> str:
    """Keyed like black's own cache: black's version, the mode's cache key, the text's hash."""
    import hashlib

    import black

    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{black.__version__}:{mode.get_cache_key()}:{digest}"


_PIECES_FILE = "black-pieces-v1.json"
_PIECES_KEPT = 8000  # a run ~1-3 KB, a part of one ~0.1 KB (a MB or two in all); the oldest go first
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


class _Exchange:
    """An append-only file of JSON lines that a build's workers share: ``[key, layout]`` for a
    layout black made, ``[key, null]`` for one a worker has started on.

    Each record is one ``write()`` to a file opened for appending, so records never interleave; a
    reader takes only whole lines (a record still being written waits for the next look).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.read_up_to = 0
        self.claimed: set[str] = set()  # by any worker, this one included
        self.mine: set[str] = set()
        self._append_fd: int | None = None
        self._read_fd: int | None = None

    def publish(self, key: str, layout: str | None) -> None:
        try:
            if self._append_fd is None:
                self._append_fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            os.write(self._append_fd, (json.dumps([key, layout]) + "\n").encode("utf-8"))
        except OSError:
            pass  # the others pay black for it themselves

    def close(self) -> None:
        for fd in (self._append_fd, self._read_fd):
            if fd is not None:
                os.close(fd)
        self._append_fd = self._read_fd = None

    def catch_up(self, into: dict[str, Any]) -> None:
        try:
            if self._read_fd is None:  # kept open: a worker looks before every piece it lays out
                self._read_fd = os.open(self.path, os.O_RDONLY)
            size = os.fstat(self._read_fd).st_size
            if size <= self.read_up_to:
                return
            data = os.pread(self._read_fd, size - self.read_up_to, self.read_up_to)
        except OSError:
            return
        whole = data.rfind(b"\n") + 1
        for line in data[:whole].splitlines():
            key, layout = json.loads(line)
            if layout is None:
                self.claimed.add(key)
            else:
                into.setdefault(key, layout)
        self.read_up_to += whole


_exchange: _Exchange | None = None


@contextlib.contextmanager
def shared_pieces() -> Iterator[None]:
    """While open, the worker processes forked from this one share the layouts black makes."""
    global _exchange
    fd, path = tempfile.mkstemp(prefix="nb2prod-pieces-", suffix=".jsonl")
    os.close(fd)
    _exchange = _Exchange(path)
    try:
        yield
    finally:
        _exchange.close()
        _exchange = None
        with contextlib.suppress(OSError):
            os.unlink(path)


def shared_layout(key: str) -> str | None:
    """The layout another worker of this build has made for ``key`` since this one last looked."""
    if _exchange is None:
        return None
    _exchange.catch_up(_stored_pieces())
    known = _stored_pieces().get(key)
    return known if isinstance(known, str) else None


def being_laid_out_elsewhere(key: str) -> bool:
    """Whether another worker has started on ``key`` and not shared it yet (so this one can do
    something else first: by then it usually has)."""
    if _exchange is None or key in _stored_pieces():
        return False
    _exchange.catch_up(_stored_pieces())
    return key in _exchange.claimed and key not in _exchange.mine and key not in _stored_pieces()


def claim_layout(key: str) -> None:
    """Tell the build's other workers that black is laying out ``key`` here."""
    if _exchange is not None:
        _exchange.mine.add(key)
        _exchange.publish(key, None)


def share_layout(key: str, layout: str) -> None:
    """Hand a layout black just made to the build's other workers."""
    if _exchange is not None:
        _exchange.publish(key, layout)
