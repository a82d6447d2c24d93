"""The runtime: everything that imports torch (loading generated modules, training, ...)."""
