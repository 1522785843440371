"""``python -m generated.wine_percent``: run the current version."""

from . import main

main()
