"""Emitters that read an Architecture and write artefacts; they never load or scale specs."""
