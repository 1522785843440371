"""iris_kale v3."""

from .pipeline import PARAMETERS, main, run

__all__ = ["PARAMETERS", "main", "run"]
