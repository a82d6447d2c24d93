"""Parts: the pieces block kinds are made of, each defined once (lowering, arguments).

- `conv_norm_act`: convolution (one kernel, or a MixConv list), norm, activation; the stem
  and head layers;
- `squeeze_excite`: the SE bottleneck's width and its nodes;
- `residual`: the join (drop path, add, activation) and ResNet's shortcut;
- `pooling`: max / average / adaptive pools (their module code), the global response norm;
- `expansion`: the expanded width of inverted-residual blocks;
- `arguments`: constructor arguments every kind's call starts with.

The spec side of the parts (their fields) is `specc.lang.parts`.
"""
