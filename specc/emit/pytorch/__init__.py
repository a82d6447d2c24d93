"""The PyTorch backend: `model.py` from an Architecture (no torch needed to emit it)."""
