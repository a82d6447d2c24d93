"""Block kind `fused_mbconv`: EfficientNetV2's fused inverted residual (see `schema`)."""
