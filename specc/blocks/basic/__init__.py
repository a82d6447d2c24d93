"""Block kind `basic`: the ResNet basic block (see `schema`)."""
