"""nb2prod: tagged Jupyter notebooks become versioned pipeline modules, with parity proof.

The subpackages are the pipeline's stages, in order, each importing only those before it:
read -> analyse -> generate -> store -> execute -> parity -> report -> train -> serve -> monitor,
with the cli on top.

The public API is small and imports nothing heavy; papermill, nbconvert, black and pandas load only
inside the functions that need them.
"""

__version__ = "0.2.0"

#: Version of the generated-code layout; stamped into every pipeline.py and manifest.json.
FORMAT_VERSION = 2

__all__ = ["FORMAT_VERSION", "__version__"]
