"""The pipeline's result on disk: one record per value, so one value that cannot cross fails alone.

Written by the pipeline process (``pipeline_runner.main``), read by nb2prod. Standard library only.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Uncaptured:
    """Stands in for a value that could not cross the process boundary (it does not pickle, or
    not unpickle here); parity reports ``reason`` for that target instead of failing the case."""

    reason: str


_MAGIC = b"NB2PROD-RESULT-1\n"
_LENGTH = 8


def write_result(path: str, result: dict[str, Any]) -> None:
    """Each value streamed as its own record (length, key, value pickles): a large value is never
    held twice in memory, and one that does not pickle becomes an :class:`Uncaptured` alone."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_MAGIC)
        for key, value in result.items():
            start = fh.tell()
            fh.write(bytes(_LENGTH))
            pickle.dump(str(key), fh, protocol=5)
            try:
                fh.write(b"V")
                pickle.dump(value, fh, protocol=5)
            except Exception as exc:  # noqa: BLE001 - a lambda, a generator, an open file, ...
                fh.seek(start + _LENGTH)
                fh.truncate()
                pickle.dump(str(key), fh, protocol=5)
                fh.write(b"U")  # the reason, not a marker object: this module may be __main__ here
                pickle.dump(f"the pipeline's value does not pickle ({type(exc).__name__}: {exc})", fh)
            end = fh.tell()
            fh.seek(start)
            fh.write((end - start - _LENGTH).to_bytes(_LENGTH, "little"))
            fh.seek(end)


def read_result(path: Path) -> dict[str, Any]:
    """What :func:`write_result` wrote; a value that does not unpickle here becomes Uncaptured."""
    result: dict[str, Any] = {}
    with open(path, "rb") as fh:
        if fh.read(len(_MAGIC)) != _MAGIC:
            raise ValueError(f"{path} is not a pipeline result")
        while header := fh.read(_LENGTH):
            length = int.from_bytes(header, "little")
            start = fh.tell()
            key = pickle.load(fh)
            try:
                if fh.read(1) == b"U":
                    result[key] = Uncaptured(pickle.load(fh))
                else:
                    result[key] = pickle.load(fh)
            except Exception as exc:  # noqa: BLE001 - a class this process cannot import, ...
                result[key] = Uncaptured(
                    f"the pipeline's value does not unpickle in nb2prod's process "
                    f"({type(exc).__name__}: {exc}); classes defined in the notebook or the "
                    "pipeline itself cannot be compared outside it"
                )
            fh.seek(start + length)
    return result
