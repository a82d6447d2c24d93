"""The residual part: the join (drop path on the branch, add, optional activation) and
ResNet's shortcut (identity, a strided 1x1 projection, or ResNet-D's average pool and
1x1 projection).

Node names follow the generated classes: `<block>.drop_path`, `<block>.add`, `<block>.act`,
`<block>.shortcut`.
"""

from __future__ import annotations

from specc.blocks.kind import Argument, BlockPlan, LowerContext
from specc.blocks.parts.arguments import drop_path_argument
from specc.blocks.parts.conv_norm_act import conv_norm_act
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import Act, Add, AvgPool, DropPath


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
    """drop path on `branch`, + `shortcut`, then `activation` (ResNet) if given."""
    out = builder.add(f"{prefix}.drop_path", DropPath(drop_path), [branch], scope)
    out = builder.add(f"{prefix}.add", Add(), [out, shortcut], scope)
    if activation is not None:
        out = builder.add(f"{prefix}.act", Act(activation), [out], scope)
    return out


def needs_projection(mode: str, in_channels: int, out_channels: int, stride: int) -> bool:
    """ResNet's rule: project (strided 1x1 conv + norm) when the shape changes (`auto`, and
    `avg_down`); `identity` and `projection` force either way."""
    if mode in ("auto", "avg_down"):
        return stride != 1 or in_channels != out_channels
    return mode == "projection"


def pools_shortcut(mode: str, projection: bool, stride: int) -> bool:
    """ResNet-D's shortcut (`avg_down`) pools where it projects with a stride (timm: an
    identity pool at stride 1)."""
    return mode == "avg_down" and projection and stride > 1


def lower_shortcut(
    builder: GraphBuilder, plan: BlockPlan, projection: bool, x: str, scope: Scope,
    ctx: LowerContext, *, avg_down: bool = False,
) -> str:  # fmt: skip
    """The shortcut branch: `x` itself, or `<block>.shortcut` (strided 1x1 conv, norm); with
    `avg_down`, `<block>.shortcut_pool` (2x2 average pool with the stride, ceil mode, padding
    not counted: timm's ResNet-D) before a stride-1 projection."""
    if not projection:
        return x
    stride = plan.stride
    if avg_down:
        pool = AvgPool(2, stride, 0, ceil_mode=True, count_include_pad=False)
        x = builder.add(f"{plan.name}.shortcut_pool", pool, [x], scope)
        stride = 1
    return conv_norm_act(
        builder, f"{plan.name}.shortcut", x, scope, out_channels=plan.out_channels, kernel=1,
        stride=stride, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip


def shortcut_arguments(plan: BlockPlan, projection: bool, avg_down: bool = False) -> list[Argument]:
    """`projection=True` and `avg_down=True` (only when they apply) and `drop_path=` for
    ResNet blocks."""
    args: list[Argument] = [("projection", True)] if projection else []
    if avg_down:
        args.append(("avg_down", True))
    return [*args, drop_path_argument(plan)]
