"""Block kind `fused_mbconv`: EfficientNetV2's fused inverted residual.

    x -> k x k fused conv, norm, act   (carries the stride; in -> expanded width)
      -> [squeeze-excitation]
      -> 1x1 project, norm             (only when the expanded width differs from the input;
                                        otherwise the fused conv maps straight to the output)
      -> [drop path, + x]              (stride 1 and in == out)

The widths follow mbconv's rules (`scaling.expansion`, `scaling.se`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from specc.blocks.base import Argument, BlockKind, LowerContext, ResolvedBlock
from specc.blocks.conv import conv_norm_act
from specc.blocks.mbconv import (
    ExpandingStage,
    describe_expanding,
    expanding_arguments,
    has_residual,
    resolve_widths,
)
from specc.blocks.parts import lower_squeeze_excite
from specc.blocks.residual import residual_join

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope


class FusedMBConvStage(ExpandingStage):
    """A stage of fused inverted residual blocks."""

    block: Literal["fused_mbconv"]


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    expanded, squeeze = block.extra["expanded"], block.extra["squeeze"]
    projects = expanded != block.in_channels
    out = conv_norm_act(
        builder, f"{block.name}.fused", x, scope("fused"),
        out_channels=expanded if projects else block.out_channels, kernel=block.kernel,
        stride=block.stride, groups=1, activation=block.activation, ctx=ctx,
    )  # fmt: skip
    if squeeze:
        out = lower_squeeze_excite(builder, f"{block.name}.se", out, block, scope("se"))
    if projects:
        out = conv_norm_act(
            builder, f"{block.name}.project", out, scope("project"),
            out_channels=block.out_channels, kernel=1, stride=1, groups=1, activation=None, ctx=ctx,
        )  # fmt: skip
    if has_residual(block):
        out = residual_join(
            builder, block.name, out, x, scope("residual"), drop_path=block.drop_path
        )
    return out


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    return expanding_arguments(block, nodes, f"{block.name}.fused.conv", ctx)


KIND = BlockKind(
    name="fused_mbconv",
    schema=FusedMBConvStage,
    resolve=resolve_widths,
    lower=_lower,
    class_name="FusedMBConv",
    template="fused_mbconv.py.j2",
    requires=("conv.py.j2", "squeeze_excite.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    describe=describe_expanding,
    parts="fused, se, project (absent when the expanded width equals the input)",
)
