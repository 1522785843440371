"""Both ends of running one generated pipeline in a fresh interpreter.

Parent side: :func:`start_pipeline` launches ``python -m nb2prod.execute.pipeline_runner`` and returns a
:class:`PipelineProcess` at once, so the notebook can execute meanwhile (``nb2prod.execute.engine``
re-exports both). Child side: :func:`main` imports the pipeline, calls ``run(**params)`` and pickles
the returned dict. A fresh process is the point: the pipeline must work without anything the
notebook kernel or nb2prod holds in memory, so this module imports only the standard library at the
top; whatever else the child has loaded, the pipeline imported itself.

Child exit codes: 0 the result is pickled at ``--out``; 3 the import or run() raised, or returned
something unusable, and ``--error`` holds JSON describing it; anything else is a crash.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod.execute._result_file import Uncaptured, read_result, write_result  # stdlib only

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

    from nb2prod.errors import ExecutionError
    from nb2prod.execute.workdir import WorkDir
    from nb2prod.execute.zygote import Zygote, ZygoteChild

__all__ = ["PipelineProcess", "Uncaptured", "read_result", "run_pipeline", "start_pipeline",
           "write_result"]

EXIT_RAISED = 3
_RUNNING: dict[int, PipelineProcess] = {}  # pid -> pipeline not yet waited for or killed (Ctrl-C)

# --- parent side ---------------------------------------------------------------------------------


@dataclass
class PipelineProcess:
    """A running pipeline; :meth:`wait` returns what ``run(**params)`` returned."""

    process: subprocess.Popen[bytes] | ZygoteChild  # the latter forked by the zygote
    pipeline_path: Path
    capture_path: Path
    timeout: float | None
    workdir: Path  # private: params pickle, error JSON, output log
    started: float
    duration: float | None = None
    output: str = ""  # the pipeline's stdout and stderr, once it has finished

    def wait(self) -> dict[str, Any]:
        """Wait (at most what is left of ``timeout``); return the dict or raise ExecutionError."""
        import shutil
        import subprocess

        from nb2prod.errors import ExecutionError

        try:
            left = None
            if self.timeout is not None:
                left = max(0.0, self.timeout - (time.monotonic() - self.started))
            try:
                code = self.process.wait(left)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ExecutionError(
                    f"pipeline exceeded the --timeout of {self.timeout:g} seconds",
                    path=str(self.pipeline_path),
                ) from None
            self.duration = time.monotonic() - self.started
            log = self.workdir / "output.log"
            self.output = log.read_text(errors="replace") if log.is_file() else ""
            if code == 0:
                return read_result(self.capture_path)
            error = self.workdir / "error.json"
            if code == EXIT_RAISED and error.is_file():
                raise _raised(json.loads(error.read_text()), self.pipeline_path)
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise ExecutionError(
                f"the pipeline process {how}",
                path=str(self.pipeline_path),
                source=self.output[-4000:] or None,
            )
        finally:
            _RUNNING.pop(self.process.pid, None)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """Kill the runner and whatever it started (it leads its own process group), if still
        running, and remove its private directory. Safe to call at any time, and more than once."""
        import shutil
        import signal

        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        _RUNNING.pop(self.process.pid, None)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PipelineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def _raised(info: dict[str, Any], default_path: Path) -> ExecutionError:
    """The child's error JSON as an ExecutionError at the innermost line in pipeline.py."""
    from nb2prod.errors import ExecutionError

    pipeline = Path(info.get("module_file") or default_path)
    line = None
    for frame in info.get("frames", []):
        if _same_file(frame.get("filename"), pipeline):
            line = frame.get("lineno")
    prefix = {"import": "importing the pipeline raised", "result": "pipeline returned"}.get(
        info.get("phase", ""), "pipeline raised"
    )
    return ExecutionError(
        f"{prefix} {info['type']}: {info['message']}",
        path=str(pipeline),
        line=line,
        source=info.get("traceback"),
        ename=info["type"],
        evalue=info["message"],
    )


def _same_file(name: str | None, path: Path) -> bool:
    try:
        return name is not None and os.path.samefile(name, path)
    except OSError:
        return False


def start_pipeline(
    package_dir: Path,
    module: str,
    params: dict[str, Any],
    *,
    cwd: Path,
    capture_path: Path,
    timeout: float | None = None,
    seed: int | None = None,
    workdir: WorkDir | None = None,
) -> PipelineProcess:
    """Start ``module.run(**params)`` in a fresh interpreter with package_dir's parent on sys.path.

    Parameters travel in a pickle in a private directory, never on the command line; the child's
    output goes to a log there rather than through pipes nobody reads while the notebook runs.
    With ``workdir`` the process runs in that mirror of ``cwd`` and its writes stay there.
    """
    import tempfile

    package_dir = Path(package_dir).resolve()
    capture_path = Path(capture_path).resolve()
    capture_path.unlink(missing_ok=True)  # a stale result must not pass for this run's
    own, workdir = workdir, Path(tempfile.mkdtemp(prefix="nb2prod-pipeline-"))
    try:  # until a PipelineProcess owns the private folder, a failure here must remove it
        params_file = workdir / "params.pkl"
        _write_private(str(params_file), pickle.dumps(dict(params), protocol=5))
        root = str(package_dir.parent)
        argv = [sys.executable, "-m", "nb2prod.execute.pipeline_runner", "--root", root, "--module", module]
        argv += ["--params", str(params_file), "--out", str(capture_path)]
        argv += ["--error", str(workdir / "error.json")]
        if own is not None:
            argv += ["--cow-root", str(own.root), "--cow-origin", str(own.origin)]
            cwd = own.root
        env = dict(os.environ)
        if seed is not None:
            argv += ["--seed", str(seed)]
            env["PYTHONHASHSEED"] = str(seed)
        process = _launch(argv, cwd=Path(cwd), env=env, log=workdir / "output.log")
    except BaseException:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
        raise
    pipeline_path = package_dir.parent.joinpath(*module.split(".")).with_suffix(".py")
    proc = PipelineProcess(process, pipeline_path, capture_path, timeout, workdir, time.monotonic())
    _RUNNING[process.pid] = proc
    return proc


def _launch(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Any:
    """The runner's process: forked by the zygote when one serves this run, else a fresh interpreter."""
    import subprocess

    process: Any = None
    if _zygote is not None:  # a forked child of an interpreter that already imported the libraries
        from nb2prod.execute.zygote import ZygoteError

        try:
            process = _zygote.spawn(argv[3:], cwd=cwd, env=env, log=log)
        except ZygoteError:
            process = None
    if process is None:
        with open(log, "wb") as output:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    return process


def kill_all() -> None:
    """Kill every pipeline started here and not yet finished (Ctrl-C while cases run in threads)."""
    import signal

    for proc in list(_RUNNING.values()):
        if proc.process.poll() is None:
            try:
                os.killpg(proc.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


_zygote: Zygote | None = None  # set by :func:`zygote_for` while a parity run has several cases


@contextmanager
def zygote_for(modules: list[str], *, cwd: Path, seed: int | None) -> Iterator[None]:
    """Within this block, :func:`start_pipeline` forks from a zygote that imported ``modules``.

    Falls back silently to fresh interpreters where the zygote is unavailable (see ``_zygote``).
    """
    global _zygote
    from nb2prod.execute import zygote as zygote_module

    if not zygote_module.available() or _zygote is not None:
        yield
        return
    env = dict(os.environ)
    if seed is not None:
        env["PYTHONHASHSEED"] = str(seed)
    try:
        zygote = zygote_module.Zygote(modules, entry=__name__, cwd=cwd, env=env)
    except OSError:
        yield
        return
    _zygote = zygote
    try:
        yield
    finally:
        _zygote = None
        zygote.close()


def run_pipeline(
    package_dir: Path,
    module: str,
    params: dict[str, Any],
    *,
    cwd: Path,
    capture_path: Path,
    timeout: float | None = None,
    seed: int | None = None,
    workdir: WorkDir | None = None,
) -> dict[str, Any]:
    """:func:`start_pipeline`, then wait for it."""
    with start_pipeline(
        package_dir, module, params, cwd=cwd, capture_path=capture_path, timeout=timeout, seed=seed,
        workdir=workdir,
    ) as proc:
        return proc.wait()


# --- child side ----------------------------------------------------------------------------------


def _write_private(path: str, data: bytes) -> None:
    """Write ``data`` readable by the owner only, even when the file already existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)


def _seed(seed: int) -> None:
    """Seed what the notebook's hidden seed cell seeds (PYTHONHASHSEED came through the env)."""
    from nb2prod.execute._seeding import seed_everything  # standard library only

    seed_everything(seed)


def _describe(exc: BaseException, phase: str, module_file: str | None) -> dict[str, Any]:
    import traceback

    frames = [
        {"filename": f.filename, "lineno": f.lineno, "function": f.name}
        for f in traceback.extract_tb(exc.__traceback__)
    ]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append({"filename": exc.filename, "lineno": exc.lineno, "function": "<module>"})
    return {
        "phase": phase,
        "type": type(exc).__name__,
        "message": str(exc),
        "frames": frames,
        "traceback": "".join(traceback.format_exception(exc)),
        "module_file": module_file,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse
    import importlib

    parser = argparse.ArgumentParser(prog="python -m nb2prod.execute.pipeline_runner")
    parser.add_argument("--root", required=True, help="directory put first on sys.path")
    parser.add_argument("--module", required=True, help="module defining run(**params)")
    parser.add_argument("--params", required=True, help="pickle of the keyword arguments")
    parser.add_argument("--out", required=True, help="where the returned dict is pickled")
    parser.add_argument("--error", required=True, help="where a failure is described as JSON")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--cow-root", default=None, help="this run's mirror of the notebook folder")
    parser.add_argument("--cow-origin", default=None, help="the folder it mirrors")
    args = parser.parse_args(argv)

    def fail(exc: BaseException, phase: str) -> int:
        info = _describe(exc, phase, module_file)
        _write_private(args.error, json.dumps(info, default=str).encode("utf-8"))
        return EXIT_RAISED

    with open(args.params, "rb") as fh:
        params = pickle.load(fh)
    sys.path.insert(0, args.root)
    if args.cow_root and args.cow_origin:
        from nb2prod.execute._cow import install  # standard library only

        install(args.cow_root, args.cow_origin)
    if args.seed is not None:
        _seed(args.seed)
    module_file: str | None = None
    try:
        module = importlib.import_module(args.module)
        module_file = getattr(module, "__file__", None)
        run = module.run
    except (Exception, SystemExit) as exc:
        return fail(exc, "import")
    try:
        result = run(**params)
    except (Exception, SystemExit) as exc:
        return fail(exc, "run")
    if not isinstance(result, dict):
        return fail(TypeError(f"run() returned {type(result).__name__}, not a dict"), "result")
    try:
        write_result(args.out, result)
    except Exception as exc:
        Path(args.out).unlink(missing_ok=True)
        return fail(exc, "result")
    return 0


if __name__ == "__main__":
    sys.exit(main())
