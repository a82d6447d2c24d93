"""Block kind `mbconv`: the inverted residual block of MobileNetV2/V3, EfficientNet, MixNet
and FBNet (TF's MBConv, timm's `ir`, torchvision's InvertedResidual).

    x -> [1x1 expand, norm, act]    (when the expanded width differs from the input, or
                                     always with `expand_conv: always`, as timm's `ir`)
      -> k x k depthwise, norm, act (carries the stride; `kernel: [3, 5, 7]` mixes kernels)
      -> [squeeze-excitation]       (the SE part: `se`)
      -> 1x1 project, norm          (linear: no activation)
      -> [drop path, + x]           (stride 1, in == out channels and `skip`)

The expanded width is `expand` x the input (or x `expand_in`, timm's `fc`), exact (TF) or
rounded like channels (timm, torchvision) per `scaling.expansion`; or a stated width
(`expanded`, as torchvision's MobileNetV3 tables give it) scaled by the channel rule.
`expand_splits`/`project_splits` split the 1x1 convs into that many dense convs over
channel groups (MixNet's `a1.1`/`p1.1`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from specc.blocks.base import (
    Argument,
    BlockKind,
    KernelSize,
    LowerContext,
    ResolvedBlock,
    StageBase,
    WidthContext,
    drop_path_argument,
    kernel_text,
    shape_arguments,
)
from specc.blocks.conv import conv_norm_act, padding_argument
from specc.blocks.parts import (
    SEField,
    describe_se,
    lower_squeeze_excite,
    se_arguments,
    se_options,
    squeeze_width,
)
from specc.blocks.residual import residual_join
from specc.scaling import rounding
from specc.spec.types import Channels

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope

Splits = Annotated[int, Field(ge=1, le=8, description="dense 1x1 convs over channel groups")]


class ExpandingStage(StageBase):
    """Fields of blocks that widen the features inside (mbconv, fused_mbconv)."""

    expand: float = Field(1.0, ge=1.0, le=64.0, description="expansion ratio")
    expanded: Channels | None = Field(
        None, description="stated expanded width (scaled by the channel rule); replaces expand"
    )
    expand_in: Channels | None = Field(
        None, description="the width `expand` multiplies instead of the block input (timm fc)"
    )
    se: SEField = None
    skip: bool = Field(True, description="residual when stride 1 and in == out (TF noskip)")

    @model_validator(mode="after")
    def _one_width_rule(self) -> ExpandingStage:
        if self.expanded is not None and "expand" in self.model_fields_set:
            raise ValueError("give either `expand` (a ratio) or `expanded` (a width), not both")
        return self


class MBConvStage(ExpandingStage):
    """A stage of inverted residual blocks."""

    block: Literal["mbconv"]
    mixed_kernels = True
    expand_conv: Literal["auto", "always"] = Field(
        "auto", description="auto: no 1x1 expansion when the width does not change"
    )
    expand_splits: Splits = 1
    project_splits: Splits = 1


def expanded_width(stage: ExpandingStage, in_channels: int, widths: WidthContext) -> int:
    """The expanded width of one block of `stage` reading `in_channels`."""
    if stage.expanded is not None:
        return widths.round_width(stage.expanded)
    base = in_channels if stage.expand_in is None else widths.round_width(stage.expand_in)
    return rounding.expanded_width(base, stage.expand, widths.rules)


def resolve_widths(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, widths: WidthContext
) -> dict[str, Any]:
    """Expanded and squeeze widths of one block, its SE and residual (fused_mbconv too)."""
    assert isinstance(stage, ExpandingStage)
    expanded = expanded_width(stage, in_channels, widths)
    extra: dict[str, Any] = {
        "expand": stage.expand,
        "expanded": expanded,
        "squeeze": squeeze_width(stage.se, in_channels, expanded, widths.rules),
        "residual": stage.skip and stride == 1 and in_channels == out_channels,
        "expand_conv": getattr(stage, "expand_conv", "auto") == "always",
        "expand_kernel": _split_kernel(getattr(stage, "expand_splits", 1)),
        "project_kernel": _split_kernel(getattr(stage, "project_splits", 1)),
    }
    return extra | se_options(stage.se)


def _split_kernel(splits: int) -> KernelSize:
    return (1,) * splits if splits > 1 else 1


def has_residual(block: ResolvedBlock) -> bool:
    return bool(block.extra["residual"])


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    extra, act = block.extra, block.activation
    expanded = extra["expanded"]
    out = x
    if expanded != block.in_channels or extra["expand_conv"]:
        out = conv_norm_act(
            builder, f"{block.name}.expand", out, scope("expand"), out_channels=expanded,
            kernel=extra["expand_kernel"], stride=1, groups=1, activation=act, ctx=ctx,
        )  # fmt: skip
    out = conv_norm_act(
        builder, f"{block.name}.depthwise", out, scope("depthwise"), out_channels=expanded,
        kernel=block.kernel, stride=block.stride, groups=expanded, activation=act, ctx=ctx,
    )  # fmt: skip
    if extra["squeeze"]:
        out = lower_squeeze_excite(builder, f"{block.name}.se", out, block, scope("se"))
    out = conv_norm_act(
        builder, f"{block.name}.project", out, scope("project"), out_channels=block.out_channels,
        kernel=extra["project_kernel"], stride=1, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip
    if has_residual(block):
        out = residual_join(
            builder, block.name, out, x, scope("residual"), drop_path=block.drop_path
        )
    return out


def expanding_arguments(
    block: ResolvedBlock, nodes: Mapping[str, Any], spatial_conv: str, ctx: LowerContext
) -> list[Argument]:
    """Constructor arguments of mbconv and fused_mbconv blocks: each only where it is not
    the class's default."""
    extra = block.extra
    args = [
        *shape_arguments(block),
        ("expanded", extra["expanded"]),
        ("squeeze", extra["squeeze"]),
        drop_path_argument(block),
    ]
    args += padding_argument(nodes, spatial_conv, block.stride, ctx)
    args += se_arguments(block)
    if not extra["residual"] and block.stride == 1 and block.in_channels == block.out_channels:
        args.append(("skip", False))
    for name in ("expand_kernel", "project_kernel"):
        if extra.get(name, 1) != 1:
            args.append((name, extra[name]))
    if extra.get("expand_conv") and extra["expanded"] == block.in_channels:
        args.append(("expand_conv", True))
    return args


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    return expanding_arguments(block, nodes, f"{block.name}.depthwise.conv", ctx)


def describe_expanding(stage: StageBase) -> str:
    """'mbconv6 k5 se0.25', 'fused_mbconv4 k3', 'mbconv(72) k3.5.7'."""
    assert isinstance(stage, ExpandingStage)
    ratio = f"({stage.expanded})" if stage.expanded is not None else f"{stage.expand:g}"
    return f"{stage.block}{ratio} k{kernel_text(stage.kernel)}{describe_se(stage.se)}"


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
