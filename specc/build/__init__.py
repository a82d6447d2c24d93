"""The pipeline: resolve, lower, validate, analyse; the Architecture and the
generated folder's atomic writer."""
