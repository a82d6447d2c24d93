"""How model.py writes `bottleneck` blocks: the `Bottleneck` class and one call per block."""

from __future__ import annotations

from specc.blocks.bottleneck.plan import BottleneckPlan
from specc.blocks.bottleneck.schema import BottleneckStage
from specc.blocks.kind import Argument, BlockEmitter, EmitContext, StageColumns, uses
from specc.blocks.parts.arguments import shape_arguments
from specc.blocks.parts.conv_norm_act import padding_argument
from specc.blocks.parts.residual import shortcut_arguments
from specc.blocks.parts.squeeze_excite import se_arguments


def arguments(plan: BottleneckPlan, ctx: EmitContext) -> list[Argument]:
    args = shape_arguments(plan, kernel_default=3)
    args.insert(2, ("width", plan.width))
    if plan.groups != 1:
        args.append(("groups", plan.groups))
    if plan.se is not None:
        args.append(("squeeze", plan.se.squeeze))
        args += se_arguments(plan.se, plan.activation)
    args += shortcut_arguments(plan, plan.projection, plan.avg_down)
    return args + padding_argument(plan.kernel, plan.stride, ctx)


def parts(plan: BottleneckPlan) -> frozenset[str]:
    return uses(avg_down=plan.avg_down, squeeze_excite=plan.se is not None, drop_path=True)


def columns(stage: BottleneckStage, first: BottleneckPlan) -> StageColumns:
    return StageColumns(se=stage.se.ratio if stage.se is not None else None)


EMITTER = BlockEmitter(
    class_name="Bottleneck",
    template="bottleneck.py.j2",
    arguments=arguments,
    parts=parts,
    parameters="reduce, spatial, se (when squeeze > 0), expand, shortcut (only when projecting)",
)
