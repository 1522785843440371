"""Capture cells and the loading of what they wrote: values right after a cell, across a process.

A hidden cell after each captured cell pickles the variable into a private folder (``mkdtemp``, 0700)
as a file only the owner can read (0600), prefixed with an HMAC-SHA256 of the pickle under a key
drawn for this run. The harness unpickles a file only when that HMAC matches: a pickle planted by
someone else, or left by another run, is refused before ``pickle`` sees a byte of it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod.errors import ExecutionError
from nb2prod.execute.pipeline_runner import Uncaptured

if TYPE_CHECKING:
    from nbformat import NotebookNode


def capture_source(var: str, base: Path, key: str, shown: bool = False) -> str:
    """A cell pickling ``var`` to ``base.pkl`` (atomically, owner-only), or noting it missing or
    unpicklable. The file starts with an HMAC of the pickle under this run's secret ``key``.

    With ``shown``, the value is what the user's cell showed (IPython's ``Out`` of its execution
    count), not a variable. Capture cells run without history, so that cell is ``In``'s last."""
    return f"""\
# nb2prod: capture {var!r} after the cell above (hidden; removed from the executed notebook)
def _nb2prod_capture(name, base, key, shown):
    import hashlib, hmac, os, pickle
    ns = dict(globals())
    if shown:
        out = ns.get("Out") or {{}}
        count = len(ns.get("In") or ()) - 1  # In[n] is cell n's code
        ns = {{name: out[count]}} if count in out else {{}}
    if name not in ns:
        open(base + ".missing", "w").close()
        return
    try:
        data = pickle.dumps(ns[name], protocol=5)
        mac = hmac.new(bytes.fromhex(key), data, hashlib.sha256).digest()
        fd = os.open(base + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(mac + data)
        os.replace(base + ".tmp", base + ".pkl")
    except Exception as exc:
        with open(base + ".error", "w") as fh:
            fh.write(f"{{type(exc).__name__}}: {{exc}}")
_nb2prod_capture({var!r}, {str(base)!r}, {key!r}, {shown!r})
del _nb2prod_capture
"""


def load_captures(
    root: Path, captures: list[tuple[int, str]], nb: NotebookNode, path: Path, key: str
) -> tuple[dict[str, Any], list[str]]:
    """Unpickle what the capture cells wrote into ``root``, a private directory this call created.

    Only a file whose HMAC matches this run's secret key is unpickled: a pickle someone else
    planted, or one left by another run, is refused before ``pickle`` sees a byte of it.
    """
    values: dict[str, Any] = {}
    missing: list[str] = []
    for k, (cell, var) in enumerate(captures):
        base = root / str(k)
        pkl, error = base.with_suffix(".pkl"), base.with_suffix(".error")
        where = {"path": str(path), "cell": cell, "source": nb.cells[cell].source}
        if base.with_suffix(".missing").is_file():
            missing.append(var)
        elif error.is_file():  # the comparison of this target says why; the others still run
            values[var] = Uncaptured(f"the notebook's value does not pickle ({error.read_text()})")
        elif pkl.is_file() and not pkl.is_symlink() and pkl.stat().st_uid == os.getuid():
            data = verified_pickle(pkl.read_bytes(), key)
            if data is None:
                raise ExecutionError(
                    f"the capture file of '{var}' was not written by this run; refusing to "
                    "unpickle it.",
                    hint="another process wrote into nb2prod's private folder; see SECURITY.md.",
                    **where,
                )
            try:
                values[var] = pickle.loads(data)
            except Exception as exc:  # noqa: BLE001
                values[var] = Uncaptured(
                    f"the notebook's value does not unpickle in nb2prod's process "
                    f"({type(exc).__name__}: {exc}); classes defined in the notebook itself "
                    "cannot be compared outside it"
                )
        else:
            raise ExecutionError(f"'{var}' was not captured (no capture cell ran).", **where)
    return values, missing


def verified_pickle(blob: bytes, key: str) -> bytes | None:
    """The pickle inside ``blob`` when its leading HMAC-SHA256 under ``key`` matches, else None."""
    mac, data = blob[:32], blob[32:]
    expected = hmac.new(bytes.fromhex(key), data, hashlib.sha256).digest()
    return data if len(blob) >= 32 and hmac.compare_digest(mac, expected) else None
