"""``python -m generated.diabetes_regression``: run the current version."""

from . import main

main()
