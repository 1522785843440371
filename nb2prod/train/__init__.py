"""Training jobs: fitted models saved with their lineage, gates, promotion."""
