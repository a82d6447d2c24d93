"""How model.py writes `mbconv` blocks: the `MBConv` class and one call per block.

The class decides from its arguments what the plan decided (the expansion conv exists when
`expanded` differs from the input or with `expand_conv`; the residual when the shape is
kept unless `skip` is False), so the arguments state each decision exactly where the
class's own rule would decide otherwise.
"""

from __future__ import annotations

from specc.blocks.kind import (
    Argument,
    BlockEmitter,
    EmitContext,
    StageColumns,
    kernel_text,
    uses,
)
from specc.blocks.mbconv.plan import MBConvPlan
from specc.blocks.mbconv.schema import MBConvStage
from specc.blocks.parts.arguments import drop_path_argument, shape_arguments
from specc.blocks.parts.conv_norm_act import padding_argument
from specc.blocks.parts.expansion import expansion_ratio
from specc.blocks.parts.squeeze_excite import describe_se, se_arguments


def arguments(plan: MBConvPlan, ctx: EmitContext) -> list[Argument]:
    """Each argument only where it is not the class's default (`ctx.parts`: what the class
    was written with: SE code, residual code)."""
    args = [*shape_arguments(plan), ("expanded", plan.expanded)]
    if "squeeze_excite" in ctx.parts:
        args.append(("squeeze", plan.se.squeeze if plan.se is not None else 0))
    if "drop_path" in ctx.parts:
        args.append(drop_path_argument(plan))
    args += padding_argument(plan.kernel, plan.stride, ctx)
    args += se_arguments(plan.se, plan.activation)
    if "drop_path" in ctx.parts and not plan.residual and plan.keeps_shape:
        args.append(("skip", False))
    if plan.expand_kernel not in (None, 1):
        args.append(("expand_kernel", plan.expand_kernel))
    if plan.project_kernel != 1:
        args.append(("project_kernel", plan.project_kernel))
    if plan.expand_kernel is not None and plan.expanded == plan.in_channels:
        args.append(("expand_conv", True))
    return args


def parts(plan: MBConvPlan) -> frozenset[str]:
    return uses(squeeze_excite=plan.se is not None, drop_path=plan.residual)


def describe(stage: MBConvStage) -> str:
    """'mbconv6 k5 se0.25', 'mbconv(72) k3,5,7'."""
    ratio = f"({stage.expanded})" if stage.expanded is not None else f"{stage.expand:g}"
    return f"{stage.block}{ratio} k{kernel_text(stage.kernel)}{describe_se(stage.se)}"


def columns(stage: MBConvStage, first: MBConvPlan) -> StageColumns:
    se = stage.se.ratio if stage.se is not None else None
    return StageColumns(expansion_ratio(stage, first.expanded, first.in_channels), se)


EMITTER = BlockEmitter(
    class_name="MBConv",
    template="mbconv.py.j2",
    arguments=arguments,
    parts=parts,
    parameters="expand (absent when the expanded width equals the input), depthwise, se, project",
)
