"""A `basic` block's nodes, from its plan."""

from __future__ import annotations

from specc.blocks.basic.plan import BasicPlan
from specc.blocks.kind import LowerContext
from specc.blocks.parts.conv_norm_act import conv_norm_act
from specc.blocks.parts.residual import lower_shortcut, residual_join
from specc.ir.graph import GraphBuilder, Scope


def lower(builder: GraphBuilder, plan: BasicPlan, x: str, ctx: LowerContext) -> str:
    def scope(role: str) -> Scope:
        return Scope("stage", plan.stage, plan.index, role)

    out = conv_norm_act(
        builder, f"{plan.name}.conv1", x, scope("conv1"), out_channels=plan.out_channels,
        kernel=plan.kernel, stride=plan.stride, groups=1, activation=plan.activation, ctx=ctx,
    )  # fmt: skip
    out = conv_norm_act(
        builder, f"{plan.name}.conv2", out, scope("conv2"), out_channels=plan.out_channels,
        kernel=plan.kernel, stride=1, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip
    shortcut = lower_shortcut(
        builder, plan, plan.projection, x, scope("shortcut"), ctx, avg_down=plan.avg_down
    )
    return residual_join(
        builder, plan.name, out, shortcut, scope("residual"), drop_path=plan.drop_path,
        activation=plan.activation,
    )  # fmt: skip
