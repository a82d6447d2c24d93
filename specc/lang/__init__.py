"""The spec language: YAML in, a validated `Spec` out, with located diagnostics."""
