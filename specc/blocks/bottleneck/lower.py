"""A `bottleneck` block's nodes, from its plan."""

from __future__ import annotations

from specc.blocks.bottleneck.plan import BottleneckPlan
from specc.blocks.kind import LowerContext
from specc.blocks.parts.conv_norm_act import conv_norm_act
from specc.blocks.parts.residual import lower_shortcut, residual_join
from specc.blocks.parts.squeeze_excite import lower_squeeze_excite
from specc.ir.graph import GraphBuilder, Scope


def lower(builder: GraphBuilder, plan: BottleneckPlan, x: str, ctx: LowerContext) -> str:
    def scope(role: str) -> Scope:
        return Scope("stage", plan.stage, plan.index, role)

    width, act = plan.width, plan.activation
    out = conv_norm_act(
        builder, f"{plan.name}.reduce", x, scope("reduce"),
        out_channels=width, kernel=1, stride=1, groups=1, activation=act, ctx=ctx,
    )  # fmt: skip
    out = conv_norm_act(
        builder, f"{plan.name}.spatial", out, scope("spatial"), out_channels=width,
        kernel=plan.kernel, stride=plan.stride, groups=plan.groups, activation=act, ctx=ctx,
    )  # fmt: skip
    if plan.se is not None:
        out = lower_squeeze_excite(builder, f"{plan.name}.se", out, plan.se, act, scope("se"))
    out = conv_norm_act(
        builder, f"{plan.name}.expand", out, scope("expand"),
        out_channels=plan.out_channels, kernel=1, stride=1, groups=1, activation=None, ctx=ctx,
    )  # fmt: skip
    shortcut = lower_shortcut(
        builder, plan, plan.projection, x, scope("shortcut"), ctx, avg_down=plan.avg_down
    )
    return residual_join(
        builder, plan.name, out, shortcut, scope("residual"), drop_path=plan.drop_path,
        activation=act,
    )  # fmt: skip
