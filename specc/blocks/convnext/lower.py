"""A `convnext` block's nodes, from its plan."""

from __future__ import annotations

from specc.blocks.convnext.plan import ConvNeXtPlan
from specc.blocks.kind import LowerContext
from specc.blocks.parts.conv_norm_act import norm_layer
from specc.blocks.parts.pooling import lower_grn
from specc.blocks.parts.residual import residual_join
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import Act, Conv, LayerScale, conv_padding


def lower(builder: GraphBuilder, plan: ConvNeXtPlan, x: str, ctx: LowerContext) -> str:
    def scope(role: str) -> Scope:
        return Scope("stage", plan.stage, plan.index, role)

    def conv(name: str, source: str, out: int, kernel: int, stride: int, groups: int) -> str:
        channels, size = builder.shape(source)[0], builder.shape(source)[-1]
        padding = (0, 0, 0, 0) if kernel == stride else conv_padding(size, kernel, 1, "symmetric")
        op = Conv(channels, out, kernel, stride, groups, padding, bias=True)
        return builder.add(f"{plan.name}.{name}", op, [source], scope(name.split(".")[0]))

    width = plan.out_channels
    if plan.downsample:
        x = norm_layer(builder, f"{plan.name}.downsample.0", x, scope("downsample"), ctx)
        x = conv("downsample.1", x, width, plan.stride, plan.stride, 1)
    out = conv("dwconv", x, width, plan.kernel_size, 1, width)
    out = norm_layer(builder, f"{plan.name}.norm", out, scope("norm"), ctx)
    out = conv("fc1", out, plan.expansion * width, 1, 1, 1)
    out = builder.add(f"{plan.name}.act", Act(plan.activation), [out], scope("act"))
    if plan.grn:
        out = lower_grn(builder, f"{plan.name}.grn", out, scope("grn"))
    out = conv("fc2", out, width, 1, 1, 1)
    if plan.layer_scale is not None:
        out = builder.add(f"{plan.name}.layer_scale", LayerScale(), [out], scope("layer_scale"))
    if not plan.residual:
        return out
    return residual_join(builder, plan.name, out, x, scope("residual"), drop_path=plan.drop_path)
