"""A `conv` block's nodes, from its plan."""

from __future__ import annotations

from specc.blocks.conv.plan import ConvPlan
from specc.blocks.kind import LowerContext
from specc.blocks.parts.conv_norm_act import conv_norm_act
from specc.blocks.parts.residual import residual_join
from specc.ir.graph import GraphBuilder, Scope


def lower(builder: GraphBuilder, plan: ConvPlan, x: str, ctx: LowerContext) -> str:
    out = conv_norm_act(
        builder, plan.name, x, Scope("stage", plan.stage, plan.index, "conv"),
        out_channels=plan.out_channels, kernel=plan.kernel, stride=plan.stride, groups=1,
        activation=plan.activation, ctx=ctx, bias=plan.bias, norm=plan.norm,
    )  # fmt: skip
    if not plan.residual:
        return out
    scope = Scope("stage", plan.stage, plan.index, "residual")
    return residual_join(builder, plan.name, out, x, scope, drop_path=plan.drop_path)
