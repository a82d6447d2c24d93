"""Compound scaling: from a spec and a selector (phi or a preset) to concrete integers."""
