"""Block kind `mbconv`: the inverted residual block (see `schema`)."""
