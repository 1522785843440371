"""Execute: papermill runs of notebooks, kernels, parameters, and pipeline processes."""
