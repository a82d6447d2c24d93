"""Block kind `conv`: convolution, batch norm, activation (also the stem and the head).

`conv_norm_act` is the lowering other kinds reuse for their own conv-norm-act layers;
its nodes are named `<prefix>.conv`, `<prefix>.bn`, `<prefix>.act`, the attribute names of
the generated `ConvNormAct` module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from specc.blocks.base import (
    Argument,
    BlockKind,
    LowerContext,
    ResolvedBlock,
    StageBase,
    no_extra,
    shape_arguments,
)
from specc.ir.ops import conv_padding

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope


class ConvStage(StageBase):
    """A stage of plain conv-norm-act layers."""

    block: Literal["conv"]


def conv_norm_act(
    builder: GraphBuilder,
    prefix: str,
    x: str,
    scope: Scope,
    *,
    out_channels: int,
    kernel: int,
    stride: int,
    groups: int,
    activation: str | None,
    ctx: LowerContext,
) -> str:
    """Lower one conv-norm-(act) layer reading tensor `x`; returns the output node id."""
    in_channels, size = builder.shape(x)[0], builder.shape(x)[-1]
    padding = conv_padding(size, kernel, stride, ctx.defaults.padding)
    norm = ctx.defaults.norm
    out = builder.add(
        f"{prefix}.conv",
        "conv",
        [x],
        scope,
        in_channels=in_channels,
        out_channels=out_channels,
        kernel=kernel,
        stride=stride,
        groups=groups,
        padding=padding,
        bias=False,
    )
    out = builder.add(f"{prefix}.bn", "norm", [out], scope, eps=norm.eps, momentum=norm.momentum)
    if activation is not None:
        out = builder.add(f"{prefix}.act", "act", [out], scope, fn=activation)
    return out


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    return conv_norm_act(
        builder,
        block.name,
        x,
        Scope("stage", block.stage, block.index, "conv"),
        out_channels=block.out_channels,
        kernel=block.kernel,
        stride=block.stride,
        groups=1,
        activation=block.activation,
        ctx=ctx,
    )


def padding_argument(nodes: Mapping[str, Any], conv: str, kernel: int) -> list[Argument]:
    """`padding=` for a generated ConvNormAct, only when it differs from kernel // 2."""
    padding = tuple(nodes[conv]["attrs"]["padding"])
    if all(p == kernel // 2 for p in padding):
        return []
    if len(set(padding)) == 1:
        return [("padding", padding[0])]
    return [("padding", padding)]


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    args = shape_arguments(block, positional_kernel=True)
    return args + padding_argument(nodes, f"{block.name}.conv", block.kernel)


KIND = BlockKind(
    name="conv",
    schema=ConvStage,
    resolve=no_extra,
    lower=_lower,
    class_name="ConvNormAct",
    template="conv.py.j2",
    requires=(),
    arguments=_arguments,
    parts="conv, bn",
)
