"""Block kind `bottleneck`: the ResNet v1.5 bottleneck, and its grouped descendants
(ResNeXt, RegNet-X/Y).

    x -> 1x1 reduce, norm, act -> k x k spatial, norm, act (carries the stride, as in v1.5;
         grouped: `groups` + `width_per_group` (ResNeXt) or `group_width` (RegNet))
      -> [squeeze-excitation] (the SE part: RegNet-Y)
      -> 1x1 expand, norm -> drop path -> + shortcut(x) -> act

`channels` is the block output; the inner width is channels / expansion (4 for ResNet, 1 for
RegNet). Under a width multiplier the inner width is rounded and the output is expansion x
that, as torchvision's `planes * expansion`. Grouped inner widths follow their references:
ResNeXt's int(planes x width_per_group / 64) x groups; RegNet's rounding of the inner width
to a multiple of the group width (the group width shrinks to the inner width when wider).
The shortcut is a strided 1x1 projection when the shape changes (`shortcut: auto`), or
forced either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from specc.blocks.base import (
    Argument,
    BlockKind,
    LowerContext,
    ResolvedBlock,
    StageBase,
    WidthContext,
    shape_arguments,
)
from specc.blocks.conv import conv_norm_act, padding_argument
from specc.blocks.parts import (
    SEField,
    lower_squeeze_excite,
    round_to_group_width,
    se_arguments,
    se_options,
    squeeze_width,
)
from specc.blocks.residual import (
    Shortcut,
    lower_shortcut,
    needs_projection,
    residual_join,
    shortcut_arguments,
)
from specc.spec.types import Channels, Groups

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope
    from specc.scaling.arith import Number


class BottleneckStage(StageBase):
    """A stage of ResNet bottleneck blocks."""

    block: Literal["bottleneck"]
    expansion: int = Field(4, ge=1, le=16, description="output width / inner width")
    shortcut: Shortcut = "auto"
    groups: Groups | None = Field(None, description="groups of the k x k conv (ResNeXt: 32)")
    width_per_group: Channels | None = Field(
        None, description="ResNeXt: inner width = int(planes x width_per_group / 64) x groups"
    )
    group_width: Channels | None = Field(
        None, description="RegNet: channels per group; the inner width rounds to a multiple"
    )
    se: SEField = None

    @model_validator(mode="after")
    def _one_grouping(self) -> BottleneckStage:
        if self.group_width is not None and self.groups is not None:
            raise ValueError("give either `groups` or `group_width`, not both")
        if self.width_per_group is not None and self.groups is None:
            raise ValueError("`width_per_group` needs `groups` (ResNeXt 32x4d: 32 and 4)")
        return self


def _channels(stage: StageBase, round_width: Callable[[Number], int]) -> int:
    assert isinstance(stage, BottleneckStage)
    # An exact fraction: float(c / e) under float arithmetic, exact under decimal.
    return stage.expansion * round_width(Fraction(stage.channels, stage.expansion))


def inner_width(stage: BottleneckStage, out_channels: int) -> tuple[int, int]:
    """(inner width, groups) of the k x k conv of a block with `out_channels`."""
    planes = out_channels // stage.expansion
    if stage.group_width is not None:
        width = round_to_group_width(planes, stage.group_width)
        return width, width // min(stage.group_width, width)
    if stage.width_per_group is not None:
        assert stage.groups is not None
        return int(planes * (stage.width_per_group / 64.0)) * stage.groups, stage.groups
    return planes, stage.groups or 1


def _resolve(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, widths: WidthContext
) -> dict[str, Any]:
    assert isinstance(stage, BottleneckStage)
    width, groups = inner_width(stage, out_channels)
    extra = {
        "width": width,
        "groups": groups,
        "squeeze": squeeze_width(stage.se, in_channels, width, widths.rules),
        "projection": needs_projection(stage.shortcut, in_channels, out_channels, stride),
    }
    return extra | se_options(stage.se)


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    width, act = block.extra["width"], block.activation
    out = conv_norm_act(
        builder, f"{block.name}.reduce", x, scope("reduce"),
        out_channels=width, kernel=1, stride=1, groups=1, activation=act, ctx=ctx,
    )  # fmt: skip
    out = conv_norm_act(
        builder, f"{block.name}.spatial", out, scope("spatial"), out_channels=width,
        kernel=block.kernel, stride=block.stride, groups=block.extra["groups"], activation=act,
        ctx=ctx,
    )  # fmt: skip
    if block.extra["squeeze"]:
        out = lower_squeeze_excite(builder, f"{block.name}.se", out, block, scope("se"))
    out = conv_norm_act(
        builder, f"{block.name}.expand", out, scope("expand"),
        out_channels=block.out_channels, kernel=1, stride=1, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip
    shortcut = lower_shortcut(builder, block, x, scope("shortcut"), ctx)
    return residual_join(
        builder, block.name, out, shortcut, scope("residual"), drop_path=block.drop_path,
        activation=act,
    )  # fmt: skip


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    extra = block.extra
    args = shape_arguments(block, kernel_default=3)
    args.insert(2, ("width", extra["width"]))
    if extra["groups"] != 1:
        args.append(("groups", extra["groups"]))
    if extra["squeeze"]:
        args.append(("squeeze", extra["squeeze"]))
        args += se_arguments(block)
    args += shortcut_arguments(block)
    return args + padding_argument(nodes, f"{block.name}.spatial.conv", block.stride, ctx)


KIND = BlockKind(
    name="bottleneck",
    schema=BottleneckStage,
    resolve=_resolve,
    lower=_lower,
    class_name="Bottleneck",
    template="bottleneck.py.j2",
    requires=("conv.py.j2", "squeeze_excite.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    parts="reduce, spatial, se (when squeeze > 0), expand, shortcut (only when projecting)",
    channels=_channels,
)
