"""A zygote for pipeline processes: import the pipelines' libraries once, fork a clean child per case.

Profiling ``nb2prod test -j 2`` over many parameter sets showed each pipeline process spending most
of its life importing (scikit-learn alone is ~0.85 s) before ``run()`` starts. The zygote is one
interpreter, started when a parity run has several cases, that imports what the generated modules
import at their top level (third-party and standard modules only, never the pipeline or a module next
to the notebook) and then does nothing but fork. Each case still gets its own process that has run
nothing but those imports: it starts its own session, moves to the folder it is given (the
case's working folder, a mirror of the notebook's), writes to its own log, reseeds numpy's global generator, and runs its entry module's ``main(argv)`` (the pipeline runner's, which
names itself) exactly as a fresh ``python -m`` of that module would. Linux only (fork); ``NB2PROD_ZYGOTE=0`` turns it
off. Any failure of the zygote itself falls back to a fresh interpreter.

Protocol: JSON lines. The parent writes ``{"preload": [...]}`` then one request per case; the zygote
answers ``{"id", "pid"}`` when it forked and ``{"id", "exit"}`` when the child ended (it reaps them).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

_ENV_SWITCH = "NB2PROD_ZYGOTE"
SPAWN_TIMEOUT = 120.0  # seconds to wait for a fork (the first waits for the imports); then fall back


class ZygoteError(RuntimeError):
    """The zygote cannot serve a request (it died, or never started): use a fresh interpreter."""


def available() -> bool:
    """Fork is safe to build on here, and the user did not turn the zygote off."""
    return sys.platform.startswith("linux") and os.environ.get(_ENV_SWITCH, "1") != "0"


def imported_modules(pipeline: Path, local_dirs: list[Path]) -> list[str]:
    """Absolute top-level imports of a generated module that are not files next to the notebook."""
    import ast

    try:
        tree = ast.parse(pipeline.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    local = {p.stem for d in local_dirs if d.is_dir() for p in d.iterdir()}
    return [m for m in dict.fromkeys(found) if m != "__future__" and m.split(".")[0] not in local]


class ZygoteChild:
    """The parent's handle on one forked case; quacks like the parts of ``Popen`` that are used."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._done = threading.Event()

    def _exited(self, code: int) -> None:
        self.returncode = code
        self._done.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import subprocess

        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(f"pipeline pid {self.pid}", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode


class Zygote:
    """Parent side: start the zygote, ask it for children, learn when they end."""

    def __init__(self, preload: list[str], *, entry: str, cwd: Path, env: dict[str, str]) -> None:
        import subprocess

        self.hash_seed = env.get("PYTHONHASHSEED")
        self._lock = threading.Lock()
        self._next = 0
        self._waiting: dict[int, list[Any]] = {}  # request id -> [pid event, pid, child]
        self._dead = False
        self._abandoned: set[int] = set()  # requests given up on: kill their child if it comes
        self._process = subprocess.Popen(
            [sys.executable, "-m", "nb2prod.execute.zygote"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._send({"preload": preload, "entry": entry})
        self._reader = threading.Thread(target=self._read, name="nb2prod-zygote", daemon=True)
        self._reader.start()

    def spawn(self, argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> ZygoteChild:
        """Fork a child running the entry module's ``main(argv)``; raise ZygoteError if impossible."""
        if env.get("PYTHONHASHSEED") != self.hash_seed:
            raise ZygoteError("the zygote runs with another hash seed")
        forked = threading.Event()
        # This thread keeps its own reference to the slot: the reader drops it from _waiting once
        # the child has ended, which a quick pipeline can do before this thread wakes up.
        slot: list[Any] = [forked, None, None]
        with self._lock:
            if self._dead:
                raise ZygoteError("the zygote has exited")
            self._next += 1
            rid = self._next
            self._waiting[rid] = slot
            self._send({"id": rid, "argv": argv, "cwd": str(cwd), "env": env, "log": str(log)})
        if not forked.wait(SPAWN_TIMEOUT):
            with self._lock:
                if slot[1] is None:
                    self._waiting.pop(rid, None)
                    self._abandoned.add(rid)
                    raise ZygoteError("the zygote did not fork in time")
        with self._lock:
            child = slot[2]
            if child is None:
                self._waiting.pop(rid, None)
                raise ZygoteError("the zygote could not fork")
        return child

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._dead = True
            raise ZygoteError("the zygote has exited") from None

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                slot = self._waiting.get(message.get("id"))
                if slot is None:
                    if message.get("id") in self._abandoned and "pid" in message:
                        _kill_group(message["pid"])
                    continue
                if "pid" in message:
                    slot[1], slot[2] = message["pid"], ZygoteChild(message["pid"])
                    slot[0].set()
                elif "exit" in message:
                    self._waiting.pop(message["id"], None)
                    slot[2]._exited(int(message["exit"]))
                elif "error" in message:
                    self._waiting.pop(message["id"], None)
                    slot[0].set()
        self._orphan_all()

    def _orphan_all(self) -> None:
        """The zygote is gone: kill the children it can no longer report on, release waiters."""
        import signal

        with self._lock:
            self._dead = True
            slots, self._waiting = list(self._waiting.values()), {}
        for forked, pid, child in slots:
            if child is not None:
                _kill_group(pid)
                child._exited(-signal.SIGKILL)
            forked.set()

    def close(self) -> None:
        """Stop the zygote (children still running are the callers' to kill, as with Popen)."""
        import subprocess

        if self._process.stdin is not None:
            try:
                self._process.stdin.close()
            except OSError:
                pass
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(5)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill_group(pid: int) -> None:
    import signal

    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- zygote side ---------------------------------------------------------------------------------


def serve() -> None:
    """Preload, then fork one child per request until the parent closes stdin."""
    import importlib
    import select
    import signal

    replies = os.fdopen(os.dup(1), "w", buffering=1)
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 1)  # whatever an import prints must not corrupt the protocol
    os.dup2(quiet, 2)
    pending = b""

    def requests() -> list[dict[str, Any]]:
        nonlocal pending
        data = os.read(0, 1 << 16)
        if not data:
            raise EOFError
        pending += data
        *lines, pending = pending.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    first: list[dict[str, Any]] = []
    while not first:
        first = requests()
    hello = first.pop(0)
    for module in hello.get("preload", []):
        try:
            importlib.import_module(module)
        except BaseException:  # noqa: BLE001 - the child will meet (and report) the same error
            pass
    entry = importlib.import_module(hello["entry"])
    for stream in (sys.stdout, sys.stderr):  # nothing an import buffered may reach a child's log
        stream.flush()

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    children: dict[int, int] = {}
    queue = first
    while True:
        for request in queue:
            pid = _fork(request, entry, close=(wake_r, wake_w, replies.fileno()))
            if pid:
                children[pid] = request["id"]
                replies.write(json.dumps({"id": request["id"], "pid": pid}) + "\n")
            else:
                replies.write(json.dumps({"id": request["id"], "error": "fork failed"}) + "\n")
        queue = []
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in children:
                code = os.waitstatus_to_exitcode(status)
                replies.write(json.dumps({"id": children.pop(pid), "exit": code}) + "\n")
        ready, _, _ = select.select([0, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        if 0 in ready:
            try:
                queue = requests()
            except EOFError:
                return


def _fork(request: dict[str, Any], entry: Any, close: tuple[int, ...]) -> int:
    """Fork; in the child, become a fresh-looking pipeline process and never return."""
    try:
        pid = os.fork()
    except OSError:
        return 0
    if pid:
        return pid
    code = 1
    try:
        import signal

        os.setsid()  # its own process group, like Popen(start_new_session=True): killpg reaches all
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close:
            os.close(fd)
        quiet = os.open(os.devnull, os.O_RDONLY)
        os.dup2(quiet, 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]  # what `python -m` puts first
        sys.argv = [entry.__file__, *request["argv"]]
        numpy = sys.modules.get("numpy")
        if numpy is not None:  # a fresh interpreter seeds it from the OS; the zygote's copy is shared
            numpy.random.seed()
        code = entry.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report like an uncaught exception in a fresh interpreter
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)
    return 0  # unreachable


if __name__ == "__main__":
    serve()
