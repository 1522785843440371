"""``OrderedPool``: results in the items' order, the first failure raised where it is taken."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nb2prod.store._fork_pool import OrderedPool


def square_or_fail(n: int) -> tuple[int, int]:
    if n == 5:
        raise ValueError(f"no {n}")
    return n * n, os.getpid()


def slow_square(n: int) -> tuple[int, int]:
    time.sleep(0.05)  # long enough for every worker to claim items
    return n * n, os.getpid()


def _in_a_fresh_interpreter(code: str) -> subprocess.CompletedProcess[str]:
    """The pool forks only from a process with no other threads (a test session often has some),
    so these run in an interpreter of their own."""
    root = Path(__file__).resolve().parents[3]
    prelude = "from nb2prod.store._fork_pool import OrderedPool, worker_count\nfrom tests.unit.store.test_fork_pool import *\n"
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=root, capture_output=True, text=True, timeout=120)


def test_results_come_in_order_from_this_process_and_forked_workers_where_that_pays():
    done = _in_a_fresh_interpreter(
        "import os\n"
        "with OrderedPool(slow_square, [1, 2, 3, 4, 6, 7, 8, 9, 10]) as pool:\n"
        "    results = list(pool.results())\n"
        "print([r for r, _ in results], os.getpid() in {p for _, p in results}, len({p for _, p in results}), worker_count(9))\n"
    )
    assert done.returncode == 0, done.stderr
    squares, here, processes, workers = done.stdout.strip().rsplit(" ", 3)
    assert squares == "[1, 4, 9, 16, 36, 49, 64, 81, 100]"
    assert here == "True"  # this process is one of the workers
    assert processes == workers  # and the others really are other processes (one per core)


def test_a_worker_that_dies_is_an_error_not_a_hang():
    done = _in_a_fresh_interpreter(
        "import tests.unit.store.test_fork_pool as t, os\n"
        "t.PARENT = os.getpid()\n"
        "with OrderedPool(t.die_in_a_worker, range(12)) as pool:\n"
        "    print('workers', pool.workers)\n"
        "    list(pool.results())\n"
    )
    if "workers 1" in done.stdout:
        pytest.skip("one core: nothing is forked")
    assert done.returncode == 1 and "RuntimeError: a build worker process ended without handing back" in done.stderr


def die_in_a_worker(n: int) -> int:
    if os.getpid() != PARENT:
        os._exit(9)  # a worker killed mid-item (the OOM killer, say)
    time.sleep(0.05)  # this process is slow: the worker surely claims an item before the end
    return n


PARENT = os.getpid()


def test_few_items_run_here_in_order():
    with OrderedPool(square_or_fail, [3, 2]) as pool:
        assert list(pool.results()) == [(9, os.getpid()), (4, os.getpid())]


@pytest.mark.parametrize("items", [[1, 2, 5, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]])
def test_the_first_failure_is_raised_where_its_result_is_taken(items):
    taken = []
    with pytest.raises(ValueError, match="no 5"), OrderedPool(square_or_fail, items) as pool:
        for result, _ in pool.results():
            taken.append(result)
    assert taken == [n * n for n in items[: items.index(5)]]
