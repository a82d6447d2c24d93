"""Residual connections shared by block kinds: the join (drop path on the branch, add,
optional activation) and ResNet's shortcut (identity, or a strided 1x1 projection).

Node names follow the generated classes: `<block>.drop_path`, `<block>.add`, `<block>.act`,
`<block>.shortcut`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from specc.blocks.base import Argument, LowerContext, ResolvedBlock
    from specc.ir.graph import GraphBuilder, Scope


def residual_join(
    builder: GraphBuilder,
    prefix: str,
    branch: str,
    shortcut: str,
    scope: Scope,
    *,
    drop_path: float,
    activation: str | None = None,
) -> str:
    out = builder.add(f"{prefix}.drop_path", "drop_path", [branch], scope, rate=drop_path)
    out = builder.add(f"{prefix}.add", "add", [out, shortcut], scope)
    if activation is not None:
        out = builder.add(f"{prefix}.act", "act", [out], scope, fn=activation)
    return out


Shortcut = Literal["auto", "identity", "projection"]


def needs_projection(mode: str, in_channels: int, out_channels: int, stride: int) -> bool:
    """ResNet's rule: project (strided 1x1 conv + norm) when the shape changes."""
    if mode == "auto":
        return stride != 1 or in_channels != out_channels
    return mode == "projection"


def lower_shortcut(
    builder: GraphBuilder, block: ResolvedBlock, x: str, scope: Scope, ctx: LowerContext
) -> str:
    """The shortcut branch: `x` itself, or `<block>.shortcut` (1x1 conv, norm)."""
    from specc.blocks.conv import conv_norm_act

    if not block.extra["projection"]:
        return x
    return conv_norm_act(
        builder, f"{block.name}.shortcut", x, scope, out_channels=block.out_channels, kernel=1,
        stride=block.stride, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip


def shortcut_arguments(block: ResolvedBlock) -> list[Argument]:
    """`projection=True` (only when it applies) and `drop_path=` for ResNet blocks."""
    from specc.blocks.base import drop_path_argument

    args: list[Argument] = []
    if block.extra["projection"]:
        args.append(("projection", True))
    args.append(drop_path_argument(block))
    return args
