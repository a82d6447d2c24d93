"""Block kinds a spec defines in YAML (`blocks:`): plan, lowering, and the kind record."""
