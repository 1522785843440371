"""Analyse: names defined and used, data flow between steps, the build plan, randomness and data lineage."""
