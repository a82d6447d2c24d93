"""Tools over Architectures: compare two (`diff`), scan a family (`sweep`), and more.

Tools read compiled Architectures or the `architecture.json` of generated folders and
return plain values; rendering (rich tables, CSV, plots) is kept apart from their logic.
"""
