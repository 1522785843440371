"""``python -m generated.iris_kale``: run the current version."""

from . import main

main()
