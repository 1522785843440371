"""The steps' run order: notebook order, unless data, ``after:`` tags or in-place changes demand otherwise."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from nb2prod.errors import AnalysisError, TagError

if TYPE_CHECKING:
    from nb2prod.analyse.dataflow import DataFlow
    from nb2prod.read.notebook import SourceNotebook


def run_order(nb: SourceNotebook, flow: DataFlow) -> list[str]:
    """Topological order of the steps, ties broken by where each step starts in the notebook."""
    first = {step: cells[0] for step, cells in flow.cells.items()}
    for step, names in flow.after.items():
        for name, cell in names.items():
            if name not in first:
                known = ", ".join(sorted(first))
                raise TagError(
                    f"'after:{name}' names a step that does not exist (steps: {known}).",
                    path=nb.display_path,
                    cell=cell,
                    hint="fix the step name, or tag a cell 'step:" + name + "'.",
                )
            if name != step:
                flow.deps.setdefault(step, {}).setdefault(name, f"'after:{name}' on {step!r}")
    pending = {s: set(flow.deps.get(s, {})) - {s} for s in first}
    ready = [(first[s], s) for s, d in pending.items() if not d]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, step = heapq.heappop(ready)
        order.append(step)
        for other, deps in pending.items():
            if step in deps:
                deps.discard(step)
                if not deps:
                    heapq.heappush(ready, (first[other], other))
    if len(order) < len(first):
        cycle = _find_cycle({s: d for s, d in pending.items() if d})
        why = "; ".join(flow.deps[a][b] for a, b in zip(cycle, cycle[1:], strict=False))
        raise AnalysisError(
            f"steps {' -> '.join(repr(s) for s in cycle)} form a cycle ({why}).",
            path=nb.display_path,
            cell=first[cycle[0]],
            hint="reorder the cells, split a step, or remove an 'after:' tag so each step only "
            "needs steps before it.",
        )
    return order


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    node = min(graph)
    path = [node]
    while True:
        node = min(graph[node])
        if node in path:
            return path[path.index(node) :] + [node]
        path.append(node)
