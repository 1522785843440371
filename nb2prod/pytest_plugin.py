"""pytest plugin: ``pytest --nb2prod notebooks/`` collects each tagged notebook x parameter set."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nb2prod")
    group.addoption(
        "--nb2prod",
        action="store_true",
        default=False,
        help="collect tagged notebooks and check parity between each notebook and its generated pipeline",
    )
