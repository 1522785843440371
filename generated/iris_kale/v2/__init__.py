"""iris_kale v2."""

from .pipeline import PARAMETERS, main, run

__all__ = ["PARAMETERS", "main", "run"]
