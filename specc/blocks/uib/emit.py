"""How model.py writes `uib` blocks: the `UniversalInvertedResidual` class and one call per
block."""

from __future__ import annotations

from specc.blocks.kind import Argument, BlockEmitter, EmitContext, StageColumns, uses
from specc.blocks.parts.arguments import drop_path_argument, shape_arguments
from specc.blocks.parts.conv_norm_act import padding_argument
from specc.blocks.parts.expansion import expansion_ratio
from specc.blocks.uib.plan import UIBPlan
from specc.blocks.uib.schema import UIBStage


def arguments(plan: UIBPlan, ctx: EmitContext) -> list[Argument]:
    args = [*shape_arguments(plan, kernel_default=3), ("expanded", plan.expanded)]
    if plan.start_kernel:
        args.append(("start_kernel", plan.start_kernel))
    if not plan.mid:
        args.append(("mid", False))
    if plan.end_kernel:
        args.append(("end_kernel", plan.end_kernel))
    args += padding_argument(plan.kernel, plan.stride, ctx)
    if "drop_path" in ctx.parts:
        args.append(drop_path_argument(plan))
        if not plan.residual and plan.keeps_shape:
            args.append(("skip", False))
    return args


def parts(plan: UIBPlan) -> frozenset[str]:
    return uses(drop_path=plan.residual)


def describe(stage: UIBStage) -> str:
    """'uib4 a3 k5', 'uib2 ffn' (timm's uir_a3_k5_e4, a0_k0_e2)."""
    ratio = f"({stage.expanded})" if stage.expanded is not None else f"{stage.expand:g}"
    convs = [f"a{stage.start_kernel}"] if stage.start_kernel else []
    convs += [f"k{stage.kernel}"] if stage.mid else []
    convs += [f"p{stage.end_kernel}"] if stage.end_kernel else []
    return f"{stage.block}{ratio} {' '.join(convs) or 'ffn'}"


def columns(stage: UIBStage, first: UIBPlan) -> StageColumns:
    return StageColumns(expansion_ratio(stage, first.expanded, first.in_channels))


EMITTER = BlockEmitter(
    class_name="UniversalInvertedResidual",
    template="uib.py.j2",
    arguments=arguments,
    parts=parts,
    parameters="dw_start (with start_kernel), pw_exp, dw_mid (unless mid is False), pw_proj, "
    "dw_end (with end_kernel)",
)
