"""How model.py writes `conv` blocks: `ConvBlock` (a `ConvNormAct` with an optional
residual) and one call per block."""

from __future__ import annotations

from specc.blocks.conv.plan import ConvPlan
from specc.blocks.kind import Argument, BlockEmitter, EmitContext, uses
from specc.blocks.parts.arguments import drop_path_argument, shape_arguments
from specc.blocks.parts.conv_norm_act import padding_argument


def arguments(plan: ConvPlan, ctx: EmitContext) -> list[Argument]:
    args = shape_arguments(plan, positional_kernel=True)
    args += padding_argument(plan.kernel, plan.stride, ctx)
    if plan.bias:
        args.append(("bias", True))
    if not plan.norm:
        args.append(("norm", False))
    if plan.residual:
        args += [("skip", True), drop_path_argument(plan)]
    return args


def parts(plan: ConvPlan) -> frozenset[str]:
    return uses(drop_path=plan.residual)


EMITTER = BlockEmitter(
    class_name="ConvBlock",
    template="conv_block.py.j2",
    arguments=arguments,
    parts=parts,
    parameters="conv, bn (absent with norm: false)",
)
