"""The prediction log: one JSON line per request, appended by every worker without interleaving.

Each line goes to the file in one ``write(2)`` on a descriptor opened ``O_APPEND`` (no user-space
buffer, so a SIGTERM loses nothing that was answered), under an exclusive ``flock`` on a lock file
beside it, which also serialises rotation between workers: when the next line would pass the size
limit, the writer holding the lock renames ``predictions.jsonl`` to ``.1`` (``.1`` to ``.2``, ...) and
every other worker notices the new inode on its next write. Files are created 0600: payloads are data.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:  # 5-10x faster than json for the payloads of large batches; optional
    import orjson
except ImportError:  # pragma: no cover - the [serve] extra installs it
    orjson = None  # type: ignore[assignment]

KEEP_ROTATED = 10  # predictions.jsonl.1 … .10; older ones are deleted


def dumps(value: Any) -> bytes:
    """Compact JSON; NaN and infinity as null (JSON has neither), anything else unknown as str."""
    if orjson is not None:
        return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    from nb2prod.serve.schema import jsonable

    return json.dumps(jsonable(value), default=str, allow_nan=False, separators=(",", ":")).encode()


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_request_id() -> str:
    return uuid.uuid4().hex


class PredictionLog:
    """Append-only JSON-lines log shared by processes; ``write(record)`` is one atomic line."""

    def __init__(self, path: Path, max_bytes: int = 100 * 2**20, keep: int = KEEP_ROTATED) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._fd = -1
        self._ino = -1
        self._open()

    def _open(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(self._fd, 0o600)  # an existing file made by someone else's umask
        self._ino = os.fstat(self._fd).st_ino

    def write(self, record: dict[str, Any]) -> None:
        line = dumps(record) + b"\n"
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            if current is None or current.st_ino != self._ino:  # another worker rotated it
                self._open()
                size = os.fstat(self._fd).st_size
            else:
                size = current.st_size
            if size and size + len(line) > self.max_bytes:
                self._rotate()
            view = memoryview(line)
            while view:  # a regular file takes it whole; the loop is for the rare short write
                written = os.write(self._fd, view)
                view = view[written:]
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _rotate(self) -> None:
        oldest = Path(f"{self.path}.{self.keep}")
        oldest.unlink(missing_ok=True)
        for n in range(self.keep - 1, 0, -1):
            older = Path(f"{self.path}.{n}")
            if older.exists():
                older.rename(f"{self.path}.{n + 1}")
        self.path.rename(f"{self.path}.1")
        self._open()

    def close(self) -> None:
        """Flush to disk and close (on shutdown: SIGTERM goes through the app's lifespan)."""
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                try:
                    os.fsync(fd)
                except OSError:
                    pass
                os.close(fd)
        self._fd = self._lock_fd = -1

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rotated_files(path: Path) -> list[Path]:
    """The log and its rotated parts, oldest first (what monitoring reads)."""
    parts = sorted(
        (p for p in path.parent.glob(f"{path.name}.*") if p.suffix[1:].isdigit()),
        key=lambda p: -int(p.suffix[1:]),
    )
    return [*parts, path] if path.exists() else parts
