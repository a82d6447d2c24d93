"""Block kind `dsconv`: depthwise-separable convolution (MobileNetV1; timm's `ds`/`dsa`).

    x -> k x k depthwise, norm, act (carries the stride; `kernel: [3, 5]` mixes kernels)
      -> [squeeze-excitation]       (the SE part: `se`)
      -> 1x1 pointwise, norm, [act] (`pointwise_act`: MobileNetV1 and timm's `dsa` have it,
                                     timm's `ds` is linear)
      -> [drop path, + x]           (with `skip`, when stride is 1 and in == out; off by
                                     default: MobileNetV1 has no residual)

The SE ratio's base widths coincide here (no expansion).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from specc.blocks.base import (
    Argument,
    BlockKind,
    LowerContext,
    ResolvedBlock,
    StageBase,
    WidthContext,
    drop_path_argument,
    shape_arguments,
)
from specc.blocks.conv import conv_norm_act, padding_argument
from specc.blocks.parts import (
    SEField,
    lower_squeeze_excite,
    se_arguments,
    se_options,
    squeeze_width,
)
from specc.blocks.residual import residual_join

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope


class DSConvStage(StageBase):
    """A stage of depthwise-separable convolutions."""

    block: Literal["dsconv"]
    mixed_kernels = True
    se: SEField = None
    pointwise_act: bool = Field(True, description="activation after the 1x1 (MobileNetV1)")
    skip: bool = Field(False, description="residual when stride 1 and in == out (timm ds)")


def _resolve(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, widths: WidthContext
) -> dict[str, Any]:
    assert isinstance(stage, DSConvStage)
    extra = {
        "squeeze": squeeze_width(stage.se, in_channels, in_channels, widths.rules),
        "pointwise_act": stage.pointwise_act,
        "residual": stage.skip and stride == 1 and in_channels == out_channels,
    }
    return extra | se_options(stage.se)


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    out = conv_norm_act(
        builder, f"{block.name}.depthwise", x, scope("depthwise"),
        out_channels=block.in_channels, kernel=block.kernel, stride=block.stride,
        groups=block.in_channels, activation=block.activation, ctx=ctx,
    )  # fmt: skip
    if block.extra["squeeze"]:
        out = lower_squeeze_excite(builder, f"{block.name}.se", out, block, scope("se"))
    out = conv_norm_act(
        builder, f"{block.name}.pointwise", out, scope("pointwise"),
        out_channels=block.out_channels, kernel=1, stride=1, groups=1,
        activation=block.activation if block.extra["pointwise_act"] else None, ctx=ctx,
    )  # fmt: skip
    if block.extra["residual"]:
        out = residual_join(
            builder, block.name, out, x, scope("residual"), drop_path=block.drop_path
        )
    return out


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    extra = block.extra
    args = shape_arguments(block, kernel_default=3)
    args += padding_argument(nodes, f"{block.name}.depthwise.conv", block.stride, ctx)
    if extra["squeeze"]:
        args.append(("squeeze", extra["squeeze"]))
        args += se_arguments(block)
    if not extra["pointwise_act"]:
        args.append(("pointwise_act", False))
    if extra["residual"]:
        args += [("skip", True), drop_path_argument(block)]
    return args


KIND = BlockKind(
    name="dsconv",
    schema=DSConvStage,
    resolve=_resolve,
    lower=_lower,
    class_name="DepthwiseSeparable",
    template="dsconv.py.j2",
    requires=("conv.py.j2", "squeeze_excite.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    parts="depthwise, se (when squeeze > 0), pointwise",
)
