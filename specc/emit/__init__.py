"""Emitters: each reads an Architecture and writes one kind of output."""
