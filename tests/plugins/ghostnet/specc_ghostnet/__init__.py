"""Block kind `ghost`: GhostNet's ghost bottleneck (Han et al., 2020), as a specc plugin.

    x -> ghost module (expand, act)       primary 1x1 conv to half the width, then a cheap
                                          depthwise 3x3 conv on it; both concatenated
      -> [k x k depthwise, norm]          (stride > 1 only; carries the stride)
      -> [squeeze-excitation]             (the SE part: `se`)
      -> ghost module (linear: no act)
      -> [drop path] + shortcut(x)        shortcut: x, or depthwise k x k (stride) + norm and
                                          1x1 + norm when the shape changes

A ghost module's halves are equal, so its widths are even: the stage width and `expanded`
(the hidden width, scaled by the channel rule) are rounded up to even after scaling.
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
    kernel_text,
    shape_arguments,
)
from specc.blocks.conv import conv_norm_act, padding_argument
from specc.blocks.mbconv import se_arguments
from specc.blocks.parts import (
    SEField,
    describe_se,
    lower_squeeze_excite,
    se_options,
    squeeze_width,
)
from specc.blocks.residual import residual_join
from specc.spec.types import Channels

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope


class GhostStage(StageBase):
    """A stage of ghost bottlenecks."""

    block: Literal["ghost"]
    expanded: Channels = Field(description="hidden width (scaled by the channel rule)")
    se: SEField = None


def _even(width: int) -> int:
    return width + width % 2


def _channels(stage: StageBase, round_width: Any) -> int:
    return _even(round_width(stage.channels))


def _resolve(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, widths: WidthContext
) -> dict[str, Any]:
    assert isinstance(stage, GhostStage)
    expanded = _even(widths.round_width(stage.expanded))
    squeeze = squeeze_width(stage.se, in_channels, expanded, widths.rules)
    shortcut = stride != 1 or in_channels != out_channels
    return {"expanded": expanded, "squeeze": squeeze, "shortcut": shortcut} | se_options(stage.se)


def _ghost_module(
    builder: GraphBuilder, prefix: str, x: str, scope: Scope, width: int,
    activation: str | None, ctx: LowerContext,
) -> str:  # fmt: skip
    """Primary 1x1 conv to width / 2, cheap depthwise 3x3 on it, concatenated."""
    half = width // 2
    primary = conv_norm_act(
        builder, f"{prefix}.primary", x, scope, out_channels=half, kernel=1, stride=1,
        groups=1, activation=activation, ctx=ctx,
    )  # fmt: skip
    cheap = conv_norm_act(
        builder, f"{prefix}.cheap", primary, scope, out_channels=half, kernel=3, stride=1,
        groups=half, activation=activation, ctx=ctx,
    )  # fmt: skip
    return builder.add(f"{prefix}.concat", "concat", [primary, cheap], scope)


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    name, extra = block.name, block.extra
    hidden, kernel = extra["expanded"], block.kernel
    out = _ghost_module(
        builder, f"{name}.ghost1", x, scope("expand"), hidden, block.activation, ctx
    )
    if block.stride > 1:
        out = conv_norm_act(
            builder, f"{name}.depthwise", out, scope("depthwise"), out_channels=hidden,
            kernel=kernel, stride=block.stride, groups=hidden, activation=None, ctx=ctx,
        )  # fmt: skip
    if extra["squeeze"]:
        out = lower_squeeze_excite(builder, f"{name}.se", out, block, scope("se"))
    out = _ghost_module(
        builder, f"{name}.ghost2", out, scope("project"), block.out_channels, None, ctx
    )
    shortcut = x
    if extra["shortcut"]:
        shortcut = conv_norm_act(
            builder, f"{name}.shortcut_depthwise", x, scope("shortcut"),
            out_channels=block.in_channels, kernel=kernel, stride=block.stride,
            groups=block.in_channels, activation=None, ctx=ctx,
        )  # fmt: skip
        shortcut = conv_norm_act(
            builder, f"{name}.shortcut_project", shortcut, scope("shortcut"),
            out_channels=block.out_channels, kernel=1, stride=1, groups=1, activation=None,
            ctx=ctx,
        )  # fmt: skip
    return residual_join(builder, name, out, shortcut, scope("residual"), drop_path=block.drop_path)


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    extra = block.extra
    args = [*shape_arguments(block, kernel_default=3), ("expanded", extra["expanded"])]
    if extra["squeeze"]:
        args.append(("squeeze", extra["squeeze"]))
    args.append(drop_path_argument(block))
    conv = f"{block.name}.depthwise.conv" if block.stride > 1 else f"{block.name}.ghost1.cheap.conv"
    return args + padding_argument(nodes, conv, block.stride, ctx) + se_arguments(block)


def _describe(stage: StageBase) -> str:
    assert isinstance(stage, GhostStage)
    return f"ghost({stage.expanded}) k{kernel_text(stage.kernel)}{describe_se(stage.se)}"


KIND = BlockKind(
    name="ghost",
    schema=GhostStage,
    resolve=_resolve,
    lower=_lower,
    class_name="GhostBottleneck",
    template="ghost.py.j2",
    requires=("conv.py.j2", "squeeze_excite.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    parts="ghost1 and ghost2 (primary, cheap), depthwise (strided only), se, "
    "shortcut_depthwise and shortcut_project (when the shape changes)",
    channels=_channels,
    describe=_describe,
)
