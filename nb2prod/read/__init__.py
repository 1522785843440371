"""Read: notebook files (.ipynb, percent-format and plain .py), cell tags and IPython magics.

The only stage that touches notebook JSON; later stages see :class:`~nb2prod.read.notebook.SourceNotebook`.
"""
