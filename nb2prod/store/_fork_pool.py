"""Independent per-item work spread over forked worker processes, results taken back in order.

A build's notebooks are independent of one another: reading, analysing, generating and black-formatting
one needs nothing from the others. Profiling a 100-notebook build showed one core idle for a third of
the run while the parent did that work and the workers only ran black; handing the whole per-notebook
job to the workers uses both cores for all of it. Workers are forked (Linux, like black's own
``reformat_many``) as early as the caller can, so they load what they need (black, nbformat, caches)
while the caller is still busy, instead of the caller loading it first with the other core idle;
where forking is unsafe or does not pay, the work runs in this process, in the same order.
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
        self.initializer = initializer  # run once in each worker (imports, caches), not here
        self.items = list(items)
        self.workers = worker_count(len(self.items))
        self._pool: Any = None

    def __enter__(self) -> OrderedPool[T, R]:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._pool is None:
            return
        if exc_type is not None:  # a bad notebook, Ctrl-C or SIGTERM: the rest of the work is moot
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        import gc

        gc.unfreeze()  # a caller that lives on (tests, a library user) collects as before

    def results(self) -> Iterator[R]:
        if self.workers <= 1:
            for item in self.items:
                yield self.func(item)
            return
        import gc
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        gc.freeze()  # the workers' collector leaves inherited objects alone: no copy-on-write faults
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker,
            initargs=(self.initializer,),
        )
        futures = [self._pool.submit(self.func, item) for item in self.items]
        for future in futures:
            yield future.result()


def _start_worker(initializer: Callable[[], None] | None) -> None:
    """Ctrl-C reaches the whole process group: only the caller handles it, and stops the workers,
    so none of them prints a traceback of its own."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the caller's "stop gracefully" handler
    if initializer is not None:
        initializer()
