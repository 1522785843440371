"""``OrderedPool``: results in the items' order, the first failure raised where it is taken."""

from __future__ import annotations

import os

import pytest

from nb2prod.store._fork_pool import OrderedPool, worker_count


def square_or_fail(n: int) -> tuple[int, int]:
    if n == 5:
        raise ValueError(f"no {n}")
    return n * n, os.getpid()


def test_results_come_in_order_from_forked_workers_where_that_pays():
    with OrderedPool(square_or_fail, [1, 2, 3, 4, 6, 7, 8, 9, 10]) as pool:
        results = list(pool.results())
    assert [r for r, _ in results] == [1, 4, 9, 16, 36, 49, 64, 81, 100]
    pids = {pid for _, pid in results}
    if worker_count(9) > 1:
        assert os.getpid() not in pids  # really elsewhere
    else:
        assert pids == {os.getpid()}


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
