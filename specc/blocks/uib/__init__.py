"""Block kind `uib`: MobileNetV4's universal inverted bottleneck (see `schema`)."""
