"""Store: versions of generated code on disk (build, publish, history, verify, diff)."""
