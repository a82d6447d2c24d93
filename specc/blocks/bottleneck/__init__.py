"""Block kind `bottleneck`: the ResNet v1.5 bottleneck (see `schema`)."""
