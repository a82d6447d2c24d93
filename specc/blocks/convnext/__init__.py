"""Block kind `convnext`: the ConvNeXt block (see `schema`)."""
