"""Generate: the plan becomes pipeline source text, formatted the way black writes it."""
