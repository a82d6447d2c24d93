"""An `mbconv` block's nodes, from its plan."""

from __future__ import annotations

from specc.blocks.kind import LowerContext
from specc.blocks.mbconv.plan import MBConvPlan
from specc.blocks.parts.conv_norm_act import conv_norm_act
from specc.blocks.parts.residual import residual_join
from specc.blocks.parts.squeeze_excite import lower_squeeze_excite
from specc.ir.graph import GraphBuilder, Scope


def lower(builder: GraphBuilder, plan: MBConvPlan, x: str, ctx: LowerContext) -> str:
    def scope(role: str) -> Scope:
        return Scope("stage", plan.stage, plan.index, role)

    act, out = plan.activation, x
    if plan.expand_kernel is not None:
        out = conv_norm_act(
            builder, f"{plan.name}.expand", out, scope("expand"), out_channels=plan.expanded,
            kernel=plan.expand_kernel, stride=1, groups=1, activation=act, ctx=ctx,
        )  # fmt: skip
    out = conv_norm_act(
        builder, f"{plan.name}.depthwise", out, scope("depthwise"), out_channels=plan.expanded,
        kernel=plan.kernel, stride=plan.stride, groups=plan.expanded, activation=act, ctx=ctx,
    )  # fmt: skip
    if plan.se is not None:
        out = lower_squeeze_excite(builder, f"{plan.name}.se", out, plan.se, act, scope("se"))
    out = conv_norm_act(
        builder, f"{plan.name}.project", out, scope("project"), out_channels=plan.out_channels,
        kernel=plan.project_kernel, stride=1, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip
    if plan.residual:
        out = residual_join(builder, plan.name, out, x, scope("residual"), drop_path=plan.drop_path)
    return out
