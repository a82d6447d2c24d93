"""Block kind `conv`: a conv-norm-act stage block (see `schema`)."""
