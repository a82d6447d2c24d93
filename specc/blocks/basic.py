"""Block kind `basic`: the ResNet basic block (ResNet-18/34).

    x -> k x k conv1, norm, act (carries the stride) -> k x k conv2, norm
      -> drop path -> + shortcut(x) -> act

The shortcut is a strided 1x1 projection when the shape changes (`shortcut: auto`).
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
    WidthContext,
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


class BasicStage(StageBase):
    """A stage of ResNet basic blocks."""

    block: Literal["basic"]
    shortcut: Shortcut = "auto"


def _resolve(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, widths: WidthContext
) -> dict[str, Any]:
    assert isinstance(stage, BasicStage)
    return {"projection": needs_projection(stage.shortcut, in_channels, out_channels, stride)}


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    out = conv_norm_act(
        builder, f"{block.name}.conv1", x, scope("conv1"), out_channels=block.out_channels,
        kernel=block.kernel, stride=block.stride, groups=1, activation=block.activation, ctx=ctx,
    )  # fmt: skip
    out = conv_norm_act(
        builder, f"{block.name}.conv2", out, scope("conv2"), out_channels=block.out_channels,
        kernel=block.kernel, stride=1, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip
    shortcut = lower_shortcut(builder, block, x, scope("shortcut"), ctx)
    return residual_join(
        builder, block.name, out, shortcut, scope("residual"), drop_path=block.drop_path,
        activation=block.activation,
    )  # fmt: skip


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    args = shape_arguments(block, kernel_default=3) + shortcut_arguments(block)
    return args + padding_argument(nodes, f"{block.name}.conv1.conv", block.stride, ctx)


KIND = BlockKind(
    name="basic",
    schema=BasicStage,
    resolve=_resolve,
    lower=_lower,
    class_name="BasicBlock",
    template="basic.py.j2",
    requires=("conv.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    parts="conv1, conv2, shortcut (only when projecting)",
)
