"""Block kind `ghost`: GhostNet's ghost bottleneck (Han et al., 2020), as a specc plugin
written against plugin contract v2 (`specc.blocks.kind`).

    x -> ghost module (expand, act)       primary 1x1 conv to half the width, then a cheap
                                          depthwise 3x3 conv on it; both concatenated
      -> [k x k depthwise, norm]          (stride > 1 only; carries the stride)
      -> [squeeze-excitation]             (the SE part: `se`)
      -> ghost module (linear: no act)
      -> [drop path] + shortcut(x)        shortcut: x, or depthwise k x k (stride) + norm and
                                          1x1 + norm when the shape changes

A ghost module's halves are equal, so its widths are even: the stage width and `expanded`
(the hidden width, scaled by the channel rule) are rounded up to even after scaling.

Porting a v1 kind (`specc.blocks.base`): `resolve` returned a dict read back by key in
`lower` and `arguments`; now `plan` returns a frozen dataclass (`GhostPlan`, a `BlockPlan`)
holding every decision once (here: the hidden width, the SE, the projecting shortcut), and
`lower` and the emitter's `arguments` read it. `requires` is gone: `parts` says which parts
(SE, drop path) a block uses, and specc writes their classes and sets the template's `se`
and `residual` switches. `arguments` no longer sees the IR nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from specc.blocks.kind import (
    Argument,
    BlockEmitter,
    BlockKind,
    BlockPlan,
    EmitContext,
    LowerContext,
    PlanContext,
    StageBase,
    StageColumns,
    kernel_text,
    uses,
)
from specc.blocks.parts.arguments import drop_path_argument, shape_arguments
from specc.blocks.parts.conv_norm_act import conv_norm_act, padding_argument
from specc.blocks.parts.residual import residual_join
from specc.blocks.parts.squeeze_excite import (
    SEPlan,
    describe_se,
    lower_squeeze_excite,
    plan_se,
    se_arguments,
)
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import Concat
from specc.lang.parts import SEField
from specc.lang.types import Channels


class GhostStage(StageBase):
    """A stage of ghost bottlenecks."""

    block: Literal["ghost"]
    expanded: Channels = Field(description="hidden width (scaled by the channel rule)")
    se: SEField = None


@dataclass(frozen=True, kw_only=True)
class GhostPlan(BlockPlan):
    expanded: int  # the hidden width, even
    se: SEPlan | None
    shortcut: bool  # depthwise + 1x1 convs on the shortcut (the shape changes)


def _even(width: int) -> int:
    return width + width % 2


def _channels(stage: GhostStage, round_width: Callable[[int], int]) -> int:
    return _even(round_width(stage.channels))


def _plan(stage: GhostStage, site: BlockPlan, ctx: PlanContext) -> GhostPlan:
    expanded = _even(ctx.round_width(stage.expanded))
    return GhostPlan.of(
        site,
        expanded=expanded,
        se=plan_se(stage.se, site.in_channels, expanded, ctx.rules),
        shortcut=not site.keeps_shape,
    )


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
    return builder.add(f"{prefix}.concat", Concat(), [primary, cheap], scope)


def _lower(builder: GraphBuilder, plan: GhostPlan, x: str, ctx: LowerContext) -> str:
    def scope(role: str) -> Scope:
        return Scope("stage", plan.stage, plan.index, role)

    name, hidden = plan.name, plan.expanded
    out = _ghost_module(builder, f"{name}.ghost1", x, scope("expand"), hidden, plan.activation, ctx)
    if plan.stride > 1:
        out = conv_norm_act(
            builder, f"{name}.depthwise", out, scope("depthwise"), out_channels=hidden,
            kernel=plan.kernel, stride=plan.stride, groups=hidden, activation=None, ctx=ctx,
        )  # fmt: skip
    if plan.se is not None:
        out = lower_squeeze_excite(
            builder, f"{name}.se", out, plan.se, plan.activation, scope("se")
        )
    out = _ghost_module(
        builder, f"{name}.ghost2", out, scope("project"), plan.out_channels, None, ctx
    )
    shortcut = x
    if plan.shortcut:
        shortcut = conv_norm_act(
            builder, f"{name}.shortcut_depthwise", x, scope("shortcut"),
            out_channels=plan.in_channels, kernel=plan.kernel, stride=plan.stride,
            groups=plan.in_channels, activation=None, ctx=ctx,
        )  # fmt: skip
        shortcut = conv_norm_act(
            builder, f"{name}.shortcut_project", shortcut, scope("shortcut"),
            out_channels=plan.out_channels, kernel=1, stride=1, groups=1, activation=None,
            ctx=ctx,
        )  # fmt: skip
    return residual_join(builder, name, out, shortcut, scope("residual"), drop_path=plan.drop_path)


def _arguments(plan: GhostPlan, ctx: EmitContext) -> list[Argument]:
    args = [*shape_arguments(plan, kernel_default=3), ("expanded", plan.expanded)]
    if plan.se is not None:
        args.append(("squeeze", plan.se.squeeze))
    args.append(drop_path_argument(plan))
    # The strided depthwise conv carries the padding (none without a stride).
    args += padding_argument(plan.kernel if plan.stride > 1 else 3, plan.stride, ctx)
    return args + se_arguments(plan.se, plan.activation)


def _parts(plan: GhostPlan) -> frozenset[str]:
    return uses(squeeze_excite=plan.se is not None, drop_path=True)


def _describe(stage: GhostStage) -> str:
    return f"ghost({stage.expanded}) k{kernel_text(stage.kernel)}{describe_se(stage.se)}"


def _columns(stage: GhostStage, first: GhostPlan) -> StageColumns:
    return StageColumns(se=stage.se.ratio if stage.se is not None else None)


KIND: BlockKind[GhostStage, GhostPlan] = BlockKind(
    name="ghost",
    schema=GhostStage,
    plan=_plan,
    lower=_lower,
    emitter=BlockEmitter(
        class_name="GhostBottleneck",
        template="ghost.py.j2",
        arguments=_arguments,
        parts=_parts,
        parameters="ghost1 and ghost2 (primary, cheap), depthwise (strided only), se, "
        "shortcut_depthwise and shortcut_project (when the shape changes)",
    ),
    channels=_channels,
    describe=_describe,
    columns=_columns,
)
