"""How model.py writes `basic` blocks: the `BasicBlock` class and one call per block."""

from __future__ import annotations

from specc.blocks.basic.plan import BasicPlan
from specc.blocks.kind import Argument, BlockEmitter, EmitContext, uses
from specc.blocks.parts.arguments import shape_arguments
from specc.blocks.parts.conv_norm_act import padding_argument
from specc.blocks.parts.residual import shortcut_arguments


def arguments(plan: BasicPlan, ctx: EmitContext) -> list[Argument]:
    args = shape_arguments(plan, kernel_default=3) + shortcut_arguments(
        plan, plan.projection, plan.avg_down
    )
    return args + padding_argument(plan.kernel, plan.stride, ctx)


def parts(plan: BasicPlan) -> frozenset[str]:
    return uses(avg_down=plan.avg_down, drop_path=True)


EMITTER = BlockEmitter(
    class_name="BasicBlock",
    template="basic.py.j2",
    arguments=arguments,
    parts=parts,
    parameters="conv1, conv2, shortcut (only when projecting)",
)
