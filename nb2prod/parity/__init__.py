"""Parity: execute both sides of a case, compare their values, diagnose reproducibility, scale out on Dask."""
