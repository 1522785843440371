"""The current version of the 'diabetes_regression' pipeline: v1.

Rewritten by `nb2prod build` and `nb2prod rollback`; versions themselves never change.
"""

from .v1.pipeline import PARAMETERS, main, run

__all__ = ["PARAMETERS", "main", "run"]
__version__ = "v1"
