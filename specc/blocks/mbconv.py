"""Block kind `mbconv`: the inverted residual block of MobileNetV2 and EfficientNet.

    x -> [1x1 expand, norm, act]    (only when the expanded width differs from the input)
      -> k x k depthwise, norm, act (carries the stride)
      -> [squeeze-excitation]       (global pool, 1x1 reduce, act, 1x1 expand, sigmoid, scale)
      -> 1x1 project, norm          (linear: no activation)
      -> [drop path, + x]           (residual only when stride is 1 and in == out channels)

Two widths are derived, each by a spec rule because implementations differ:
- expanded = in * expand, exact (TF) or rounded like channels (timm, torchvision);
- squeeze = se * (block input | expanded width), floored (TF, torchvision) or rounded (timm).
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
    shape_arguments,
)
from specc.blocks.conv import conv_norm_act, padding_argument
from specc.blocks.residual import residual_join
from specc.scaling.rounding import expanded_width, squeeze_width

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope
    from specc.spec.schema import Scaling


class ExpandingStage(StageBase):
    """Fields of blocks that widen the features inside (mbconv, fused_mbconv)."""

    expand: float = Field(1.0, ge=1.0, le=64.0, description="expansion ratio")
    se: float | None = Field(None, gt=0.0, le=1.0, description="squeeze-excitation ratio")


class MBConvStage(ExpandingStage):
    """A stage of inverted residual blocks."""

    block: Literal["mbconv"]


def resolve_widths(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, rules: Scaling
) -> dict[str, Any]:
    """Expanded and squeeze widths of one block (fused_mbconv shares this)."""
    assert isinstance(stage, ExpandingStage)
    expanded = expanded_width(in_channels, stage.expand, rules)
    squeeze = 0
    if stage.se is not None:
        squeeze = squeeze_width(in_channels, expanded, stage.se, rules)
    return {"expand": stage.expand, "se": stage.se, "expanded": expanded, "squeeze": squeeze}


def has_residual(block: ResolvedBlock) -> bool:
    return block.stride == 1 and block.in_channels == block.out_channels


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    expanded, squeeze = block.extra["expanded"], block.extra["squeeze"]
    act = block.activation
    out = x
    if expanded != block.in_channels:
        out = conv_norm_act(
            builder, f"{block.name}.expand", out, scope("expand"),
            out_channels=expanded, kernel=1, stride=1, groups=1, activation=act, ctx=ctx,
        )  # fmt: skip
    out = conv_norm_act(
        builder, f"{block.name}.depthwise", out, scope("depthwise"), out_channels=expanded,
        kernel=block.kernel, stride=block.stride, groups=expanded, activation=act, ctx=ctx,
    )  # fmt: skip
    if squeeze:
        out = lower_squeeze_excite(builder, f"{block.name}.se", out, squeeze, block, scope("se"))
    out = conv_norm_act(
        builder, f"{block.name}.project", out, scope("project"),
        out_channels=block.out_channels, kernel=1, stride=1, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip
    if has_residual(block):
        out = residual_join(
            builder, block.name, out, x, scope("residual"), drop_path=block.drop_path
        )
    return out


def lower_squeeze_excite(
    builder: GraphBuilder, prefix: str, x: str, squeeze: int, block: ResolvedBlock, scope: Scope
) -> str:
    channels = builder.shape(x)[0]

    def conv_1x1(name: str, source: str, cin: int, cout: int) -> str:
        return builder.add(
            name, "conv", [source], scope, in_channels=cin, out_channels=cout, kernel=1, stride=1,
            groups=1, padding=(0, 0, 0, 0), bias=True,
        )  # fmt: skip

    pooled = builder.add(f"{prefix}.pool", "pool", [x], scope, kind="avg")
    reduced = conv_1x1(f"{prefix}.reduce", pooled, channels, squeeze)
    activated = builder.add(f"{prefix}.act", "act", [reduced], scope, fn=block.activation)
    expanded = conv_1x1(f"{prefix}.expand", activated, squeeze, channels)
    gate = builder.add(f"{prefix}.gate", "act", [expanded], scope, fn="sigmoid")
    return builder.add(f"{prefix}.scale", "mul", [x, gate], scope)


def expanding_arguments(
    block: ResolvedBlock, nodes: Mapping[str, Any], spatial_conv: str
) -> list[Argument]:
    """Constructor arguments of mbconv and fused_mbconv blocks."""
    widths: list[Argument] = [
        ("expanded", block.extra["expanded"]),
        ("squeeze", block.extra["squeeze"]),
    ]
    args = [*shape_arguments(block), *widths, ("drop_path", block.drop_path)]
    return args + padding_argument(nodes, spatial_conv, block.kernel)


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    return expanding_arguments(block, nodes, f"{block.name}.depthwise.conv")


def describe_expanding(stage: StageBase) -> str:
    """'mbconv6 k5 se0.25', 'fused_mbconv4 k3'."""
    assert isinstance(stage, ExpandingStage)
    se = f" se{stage.se:g}" if stage.se else ""
    return f"{stage.block}{stage.expand:g} k{stage.kernel}{se}"


KIND = BlockKind(
    name="mbconv",
    schema=MBConvStage,
    resolve=resolve_widths,
    lower=_lower,
    class_name="MBConv",
    template="mbconv.py.j2",
    requires=("conv.py.j2", "squeeze_excite.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    describe=describe_expanding,
    parts="expand (absent when the expanded width equals the input), depthwise, se, project",
)
