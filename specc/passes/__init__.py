"""Passes over the IR graph: validation (all problems at once) and analysis."""
