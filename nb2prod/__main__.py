"""``python -m nb2prod`` is the ``nb2prod`` command."""

from nb2prod.cli import main

main()
