"""A `dsconv` block's nodes, from its plan."""

from __future__ import annotations

from specc.blocks.dsconv.plan import DSConvPlan
from specc.blocks.kind import LowerContext
from specc.blocks.parts.conv_norm_act import conv_norm_act
from specc.blocks.parts.residual import residual_join
from specc.blocks.parts.squeeze_excite import lower_squeeze_excite
from specc.ir.graph import GraphBuilder, Scope


def lower(builder: GraphBuilder, plan: DSConvPlan, x: str, ctx: LowerContext) -> str:
    def scope(role: str) -> Scope:
        return Scope("stage", plan.stage, plan.index, role)

    out = conv_norm_act(
        builder, f"{plan.name}.depthwise", x, scope("depthwise"),
        out_channels=plan.in_channels, kernel=plan.kernel, stride=plan.stride,
        groups=plan.in_channels, activation=plan.activation, ctx=ctx,
    )  # fmt: skip
    if plan.se is not None:
        out = lower_squeeze_excite(
            builder, f"{plan.name}.se", out, plan.se, plan.activation, scope("se")
        )
    out = conv_norm_act(
        builder, f"{plan.name}.pointwise", out, scope("pointwise"),
        out_channels=plan.out_channels, kernel=1, stride=1, groups=1,
        activation=plan.activation if plan.pointwise_act else None, ctx=ctx,
    )  # fmt: skip
    if plan.residual:
        out = residual_join(builder, plan.name, out, x, scope("residual"), drop_path=plan.drop_path)
    return out
