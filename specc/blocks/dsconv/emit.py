"""How model.py writes `dsconv` blocks: the `DepthwiseSeparable` class and one call per
block."""

from __future__ import annotations

from specc.blocks.dsconv.plan import DSConvPlan
from specc.blocks.dsconv.schema import DSConvStage
from specc.blocks.kind import (
    Argument,
    BlockEmitter,
    EmitContext,
    StageColumns,
    uses,
)
from specc.blocks.parts.arguments import drop_path_argument, shape_arguments
from specc.blocks.parts.conv_norm_act import padding_argument
from specc.blocks.parts.squeeze_excite import se_arguments


def arguments(plan: DSConvPlan, ctx: EmitContext) -> list[Argument]:
    args = shape_arguments(plan, kernel_default=3)
    args += padding_argument(plan.kernel, plan.stride, ctx)
    if plan.se is not None:
        args.append(("squeeze", plan.se.squeeze))
        args += se_arguments(plan.se, plan.activation)
    if not plan.pointwise_act:
        args.append(("pointwise_act", False))
    if plan.residual:
        args += [("skip", True), drop_path_argument(plan)]
    return args


def parts(plan: DSConvPlan) -> frozenset[str]:
    return uses(squeeze_excite=plan.se is not None, drop_path=plan.residual)


def columns(stage: DSConvStage, first: DSConvPlan) -> StageColumns:
    return StageColumns(se=stage.se.ratio if stage.se is not None else None)


EMITTER = BlockEmitter(
    class_name="DepthwiseSeparable",
    template="dsconv.py.j2",
    arguments=arguments,
    parts=parts,
    parameters="depthwise, se (when squeeze > 0), pointwise",
)
