"""The pooling part: max and average pools inside the trunk (VGG's pools between stages,
ResNet-D's average-pool shortcut, DenseNet's transitions) and the adaptive pool before a
flattened classifier; and the global response norm (ConvNeXt V2), a norm over the map.

`pool_code` writes the torch module of a pool op for model.py, from the op's attributes
(integers and booleans only), so a graph block and a built-in kind emit the same call.
"""

from __future__ import annotations

from specc.blocks.kind import Code
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import GRN, AdaptiveAvgPool, AvgPool, MaxPool

Pool = MaxPool | AvgPool | AdaptiveAvgPool


def pool_code(op: Pool) -> Code:
    """`nn.MaxPool2d(2, 2, ceil_mode=True)` and the like: PyTorch's defaults are left out
    (padding 0, ceil_mode False, count_include_pad True)."""
    if isinstance(op, AdaptiveAvgPool):
        return Code(f"nn.AdaptiveAvgPool2d({int(op.size)})")
    args = [str(int(op.kernel)), str(int(op.stride))]
    if op.padding:
        args.append(f"padding={int(op.padding)}")
    if op.ceil_mode:
        args.append("ceil_mode=True")
    if isinstance(op, AvgPool):
        if not op.count_include_pad:
            args.append("count_include_pad=False")
        return Code(f"nn.AvgPool2d({', '.join(args)})")
    return Code(f"nn.MaxPool2d({', '.join(args)})")


def lower_grn(builder: GraphBuilder, name: str, x: str, scope: Scope, eps: float = 1e-6) -> str:
    """A `GlobalResponseNorm` on `x` (node `name`: its module path)."""
    return builder.add(name, GRN(eps), [x], scope)
