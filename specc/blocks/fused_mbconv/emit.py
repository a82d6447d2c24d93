"""How model.py writes `fused_mbconv` blocks: the `FusedMBConv` class and one call per
block (the class projects when `expanded` differs from the input, as the plan decides)."""

from __future__ import annotations

from specc.blocks.fused_mbconv.plan import FusedMBConvPlan
from specc.blocks.fused_mbconv.schema import FusedMBConvStage
from specc.blocks.kind import (
    Argument,
    BlockEmitter,
    EmitContext,
    StageColumns,
    kernel_text,
    uses,
)
from specc.blocks.parts.arguments import drop_path_argument, shape_arguments
from specc.blocks.parts.conv_norm_act import padding_argument
from specc.blocks.parts.expansion import expansion_ratio
from specc.blocks.parts.squeeze_excite import describe_se, se_arguments


def arguments(plan: FusedMBConvPlan, ctx: EmitContext) -> list[Argument]:
    args = [*shape_arguments(plan), ("expanded", plan.expanded)]
    if plan.projects and plan.expanded == plan.in_channels:
        args.append(("expand_conv", True))
    if "squeeze_excite" in ctx.parts:
        args.append(("squeeze", plan.se.squeeze if plan.se is not None else 0))
    if "drop_path" in ctx.parts:
        args.append(drop_path_argument(plan))
    args += padding_argument(plan.kernel, plan.stride, ctx)
    args += se_arguments(plan.se, plan.activation)
    if "drop_path" in ctx.parts and not plan.residual and plan.keeps_shape:
        args.append(("skip", False))
    return args


def parts(plan: FusedMBConvPlan) -> frozenset[str]:
    return uses(squeeze_excite=plan.se is not None, drop_path=plan.residual)


def describe(stage: FusedMBConvStage) -> str:
    """'fused_mbconv4 k3', 'fused_mbconv(64) k3 se0.25'."""
    ratio = f"({stage.expanded})" if stage.expanded is not None else f"{stage.expand:g}"
    return f"{stage.block}{ratio} k{kernel_text(stage.kernel)}{describe_se(stage.se)}"


def columns(stage: FusedMBConvStage, first: FusedMBConvPlan) -> StageColumns:
    se = stage.se.ratio if stage.se is not None else None
    return StageColumns(expansion_ratio(stage, first.expanded, first.in_channels), se)


EMITTER = BlockEmitter(
    class_name="FusedMBConv",
    template="fused_mbconv.py.j2",
    arguments=arguments,
    parts=parts,
    parameters="fused, se, project (absent when the expanded width equals the input, unless "
    "expand_conv)",
)
