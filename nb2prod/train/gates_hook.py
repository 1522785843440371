"""The hook training calls before it promotes: do the new model's metrics pass the project's gates?

``train`` records the result in the card (``gates``) and promotes only when it passes; the rules and
their evaluation live in :mod:`nb2prod.train.gates`, shared with ``nb2prod test`` and ``monitor``.
"""

from __future__ import annotations

from typing import Any


def evaluate_gates(
    card: dict[str, Any], production: dict[str, Any] | None, config: Any
) -> tuple[bool, list[str], list[dict[str, Any]]]:
    """(passed, lines to print, the card's ``gates.results``) for ``card`` against the gates
    configured in ``config`` (``[tool.nb2prod]``) and the current ``production`` card, if any."""
    from nb2prod.train.gates import evaluate, rules_for

    rules = rules_for(getattr(config, "gates", {}) or {}, card["name"])
    if not rules:
        return True, [], []
    champion = (production.get("metrics") or {}) if production is not None else None
    report = evaluate(rules, card.get("metrics") or {}, champion)
    return report.passed, report.lines(), report.as_card()["results"]
