"""A `uib` block's nodes, from its plan."""

from __future__ import annotations

from specc.blocks.kind import LowerContext
from specc.blocks.parts.conv_norm_act import conv_norm_act
from specc.blocks.parts.residual import residual_join
from specc.blocks.uib.plan import UIBPlan
from specc.ir.graph import GraphBuilder, Scope


def lower(builder: GraphBuilder, plan: UIBPlan, x: str, ctx: LowerContext) -> str:
    def scope(role: str) -> Scope:
        return Scope("stage", plan.stage, plan.index, role)

    def layer(role: str, source: str, out: int, kernel: int, stride: int, act: bool) -> str:
        # the dw_* convs are depthwise at any kernel size (a 1 x 1 one too), as the class
        groups = out if role.startswith("dw_") else 1
        return conv_norm_act(
            builder, f"{plan.name}.{role}", source, scope(role), out_channels=out,
            kernel=kernel, stride=stride, groups=groups,
            activation=plan.activation if act else None, ctx=ctx,
        )  # fmt: skip

    start, mid, end = plan.strides()
    width = plan.in_channels
    out = x
    if plan.start_kernel:
        out = layer("dw_start", out, width, plan.start_kernel, start, act=False)
    out = layer("pw_exp", out, plan.expanded, 1, 1, act=True)
    if plan.mid:
        out = layer("dw_mid", out, plan.expanded, plan.kernel_size, mid, act=True)
    out = layer("pw_proj", out, plan.out_channels, 1, 1, act=False)
    if plan.end_kernel:
        out = layer("dw_end", out, plan.out_channels, plan.end_kernel, end, act=False)
    if not plan.residual:
        return out
    return residual_join(builder, plan.name, out, x, scope("residual"), drop_path=plan.drop_path)
