"""Block kind `bottleneck`: the ResNet v1.5 bottleneck (ResNet-50 and deeper).

    x -> 1x1 reduce, norm, act -> k x k spatial, norm, act (carries the stride, as in v1.5)
      -> 1x1 expand, norm -> drop path -> + shortcut(x) -> act

`channels` is the block output; the inner width is channels / expansion (4). Under a width
multiplier the inner width is rounded and the output is expansion x that, as torchvision's
`planes * expansion`. The shortcut is a strided 1x1 projection when the shape changes
(`shortcut: auto`), or forced either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
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
from specc.blocks.residual import (
    Shortcut,
    lower_shortcut,
    needs_projection,
    residual_join,
    shortcut_arguments,
)

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope
    from specc.scaling.arith import Number
    from specc.spec.schema import Scaling


class BottleneckStage(StageBase):
    """A stage of ResNet bottleneck blocks."""

    block: Literal["bottleneck"]
    expansion: int = Field(4, ge=1, le=16, description="output width / inner width")
    shortcut: Shortcut = "auto"


def _channels(stage: StageBase, round_width: Callable[[Number], int]) -> int:
    assert isinstance(stage, BottleneckStage)
    # An exact fraction: float(c / e) under float arithmetic, exact under decimal.
    return stage.expansion * round_width(Fraction(stage.channels, stage.expansion))


def _resolve(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, rules: Scaling
) -> dict[str, Any]:
    assert isinstance(stage, BottleneckStage)
    return {
        "width": out_channels // stage.expansion,
        "projection": needs_projection(stage.shortcut, in_channels, out_channels, stride),
    }


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
        builder, f"{block.name}.spatial", out, scope("spatial"),
        out_channels=width, kernel=block.kernel, stride=block.stride, groups=1, activation=act,
        ctx=ctx,
    )  # fmt: skip
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
    args = shape_arguments(block, kernel_default=3) + shortcut_arguments(block)
    args.insert(2, ("width", block.extra["width"]))
    return args + padding_argument(nodes, f"{block.name}.spatial.conv", block.kernel)


KIND = BlockKind(
    name="bottleneck",
    schema=BottleneckStage,
    resolve=_resolve,
    lower=_lower,
    class_name="Bottleneck",
    template="bottleneck.py.j2",
    requires=("conv.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    parts="reduce, spatial, expand, shortcut (only when projecting)",
    channels=_channels,
)
