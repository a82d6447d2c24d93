"""Block kind `dsconv`: depthwise-separable convolution (MobileNetV1).

    x -> k x k depthwise, norm, act (carries the stride) -> 1x1 pointwise, norm, act

No residual: MobileNetV1 has none.
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
from specc.blocks.conv import conv_norm_act, padding_argument

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder


class DSConvStage(StageBase):
    """A stage of depthwise-separable convolutions."""

    block: Literal["dsconv"]


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    out = conv_norm_act(
        builder, f"{block.name}.depthwise", x, scope("depthwise"),
        out_channels=block.in_channels, kernel=block.kernel, stride=block.stride,
        groups=block.in_channels, activation=block.activation, ctx=ctx,
    )  # fmt: skip
    return conv_norm_act(
        builder, f"{block.name}.pointwise", out, scope("pointwise"),
        out_channels=block.out_channels, kernel=1, stride=1, groups=1,
        activation=block.activation, ctx=ctx,
    )  # fmt: skip


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    args = shape_arguments(block, kernel_default=3)
    return args + padding_argument(nodes, f"{block.name}.depthwise.conv", block.kernel)


KIND = BlockKind(
    name="dsconv",
    schema=DSConvStage,
    resolve=no_extra,
    lower=_lower,
    class_name="DepthwiseSeparable",
    template="dsconv.py.j2",
    requires=("conv.py.j2",),
    arguments=_arguments,
    parts="depthwise, pointwise",
)
