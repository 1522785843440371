"""The hook training calls before it promotes: do the new model's metrics pass the project's gates?

Gates (issue 18) fill this in; until then every model passes. ``train`` records the result in the
card (``gates``) and promotes only when it passes, so the gates owner changes this function alone.
"""

from __future__ import annotations

from typing import Any


def evaluate_gates(
    card: dict[str, Any], production: dict[str, Any] | None, config: Any
) -> tuple[bool, list[str], list[dict[str, Any]]]:
    """(passed, lines to print, the card's ``gates.results``) for ``card`` against the gates
    configured in ``config`` (``[tool.nb2prod]``) and the current ``production`` card, if any."""
    return True, [], []
