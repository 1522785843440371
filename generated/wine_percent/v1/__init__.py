"""wine_percent v1."""

from .pipeline import PARAMETERS, main, run

__all__ = ["PARAMETERS", "main", "run"]
