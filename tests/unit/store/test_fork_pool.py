"""``OrderedPool``: results in the items' order, the first failure raised where it is taken."""

from __future__ import annotations

import os
import time

import pytest

from nb2prod.store._fork_pool import OrderedPool, worker_count


def square_or_fail(n: int) -> tuple[int, int]:
    if n == 5:
        raise ValueError(f"no {n}")
    return n * n, os.getpid()


def slow_square(n: int) -> tuple[int, int]:
    time.sleep(0.05)  # long enough for every worker to claim items
    return n * n, os.getpid()


def test_results_come_in_order_from_this_process_and_forked_workers_where_that_pays():
    with OrderedPool(slow_square, [1, 2, 3, 4, 6, 7, 8, 9, 10]) as pool:
        results = list(pool.results())
    assert [r for r, _ in results] == [1, 4, 9, 16, 36, 49, 64, 81, 100]
    pids = {pid for _, pid in results}
    assert os.getpid() in pids  # this process is one of the workers
    assert len(pids) == worker_count(9)  # and the others really are other processes


def test_a_worker_that_dies_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="ended without handing back"), OrderedPool(die_in_a_worker, range(12)) as pool:
        if pool.workers < 2:
            pytest.skip("no second core: nothing is forked")
        list(pool.results())


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
