"""Block kind `dsconv`: depthwise-separable convolution (see `schema`)."""
