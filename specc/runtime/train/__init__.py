"""The trainer (imports torch)."""
