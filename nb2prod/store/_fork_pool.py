"""Independent per-item work spread over forked processes, results taken back in order.

A build's notebooks are independent of one another: reading, analysing, generating and black-formatting
one needs nothing from the others, so the whole per-notebook job is spread over the cores. The
caller is one of the workers: it loads what the work needs once (black, nbformat, caches), forks
the others (Linux, like black's own ``reformat_many``), which inherit it, and between taking results
in order it claims the next unclaimed item itself. Profiling showed the alternative, a process pool
the caller only waits on, costing a fifth more CPU on two cores: every worker loaded the same
libraries again, and the pool's threads in the caller competed with the work. Where forking is
unsafe or does not pay, the work runs in this process, in the same order.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_PARALLEL = 6  # below this many items, forking workers costs more than it saves


def worker_count(items: int, minimum: int = MIN_PARALLEL) -> int:
    """Worker processes for ``items`` jobs: only where fork is safe and there is a core to spare."""
    if items < minimum or not sys.platform.startswith("linux"):
        return 1
    if threading.active_count() > 1:  # forking a threaded process can deadlock the child
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cpus, items // 3))


class OrderedPool(Generic[T, R]):
    """``func(item)`` for every item, yielded in the items' order, from forked workers when that pays.

    An exception raised by ``func`` is raised where its item's result is taken, so the caller sees
    the first failure in order, as if it had run the items one by one. Leaving the ``with`` block
    on an exception stops the workers at once.
    """

    def __init__(
        self,
        func: Callable[[T], R],
        items: Iterable[T],
        *,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self.func = func
        self.initializer = initializer  # run once, before forking: the workers inherit what it loads
        self.items = list(items)
        self.workers = worker_count(len(self.items))  # this process included
        self._children: list[Any] = []

    def __enter__(self) -> OrderedPool[T, R]:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if not self._children:
            return
        if exc_type is not None:  # a bad notebook, Ctrl-C or SIGTERM: the rest of the work is moot
            for child in self._children:
                if child.is_alive():
                    child.terminate()
        for child in self._children:
            child.join()
        self._children = []
        import gc

        gc.unfreeze()  # a caller that lives on (tests, a library user) collects as before

    def results(self) -> Iterator[R]:
        if self.workers <= 1:
            for item in self.items:
                yield self.func(item)
            return
        import gc
        import multiprocessing
        from multiprocessing.connection import wait

        if self.initializer is not None:
            self.initializer()
        context = multiprocessing.get_context("fork")
        claimed = context.Value("i", 0)  # the next item nobody has taken
        gc.freeze()  # the workers' collector leaves inherited objects alone: no copy-on-write faults
        channels: list[Any] = []
        for _ in range(self.workers - 1):
            reader, writer = context.Pipe(duplex=False)
            _widen(writer)
            child = context.Process(target=_work_loop, args=(self.func, self.items, claimed, writer), daemon=True)
            child.start()
            writer.close()
            self._children.append(child)
            channels.append(reader)
        done: dict[int, tuple[bool, Any]] = {}
        for index in range(len(self.items)):
            while index not in done:
                if _collect(channels, done, wait, block=False) and index in done:
                    break
                mine = _claim(claimed, len(self.items))
                if mine is not None:
                    done[mine] = _attempt(self.func, self.items[mine])
                elif not _collect(channels, done, wait, block=True):
                    raise RuntimeError(
                        f"a build worker process ended without handing back item {index + 1} of "
                        f"{len(self.items)} (killed, or out of memory?)."
                    )
            ok, value = done.pop(index)
            if not ok:
                raise value
            yield value


def _widen(channel: Any) -> None:
    """A 1 MiB pipe, where Linux allows it: a worker then never waits for this process to read a
    result while it works on an item of its own (a pipe holds 64 KiB; a result can be more)."""
    try:
        import fcntl

        fcntl.fcntl(channel.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass


def _claim(claimed: Any, count: int) -> int | None:
    with claimed.get_lock():
        index = claimed.value
        if index >= count:
            return None
        claimed.value = index + 1
    return index


def _attempt(func: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    try:
        return True, func(item)
    except Exception as err:  # raised where the caller takes this item's result
        return False, err


def _collect(channels: list[Any], done: dict[int, tuple[bool, Any]], wait: Any, *, block: bool) -> bool:
    """Take the results the workers have sent (waiting for one when ``block``); False when there
    is nothing left to wait for (every worker has finished or died)."""
    if not channels:
        return False
    for channel in wait(channels, timeout=None if block else 0):
        try:
            index, ok, value = channel.recv()
        except EOFError:  # the worker has finished (or died): nothing more will come from it
            channels.remove(channel)
            continue
        done[index] = (ok, value)
    return True


def _work_loop(func: Callable[[Any], Any], items: list[Any], claimed: Any, channel: Any) -> None:
    """A forked worker: claim the next item until none is left, and send each result back."""
    _start_worker()
    while (index := _claim(claimed, len(items))) is not None:
        ok, value = _attempt(func, items[index])
        try:
            channel.send((index, ok, value))
        except Exception as err:  # a result or an exception that does not pickle
            channel.send((index, False, RuntimeError(f"{type(value).__name__} could not be sent back: {err}")))
    channel.close()


def _start_worker() -> None:
    """Ctrl-C reaches the whole process group: only the caller handles it, and stops the workers,
    so none of them prints a traceback of its own."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the caller's "stop gracefully" handler
