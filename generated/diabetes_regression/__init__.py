"""The current version of the 'diabetes_regression' pipeline: v3.

Rewritten by `nb2prod build` and `nb2prod rollback`; versions themselves never change.
"""

from .v3.pipeline import PARAMETERS, main, run

__all__ = ["PARAMETERS", "main", "run"]
__version__ = "v3"
