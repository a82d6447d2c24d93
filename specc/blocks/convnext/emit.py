"""How model.py writes `convnext` blocks: the `ConvNeXtBlock` class (with its `LayerScale`)
and one call per block."""

from __future__ import annotations

from specc.blocks.convnext.plan import ConvNeXtPlan
from specc.blocks.kind import Argument, BlockEmitter, EmitContext, uses
from specc.blocks.parts.arguments import drop_path_argument, shape_arguments


def arguments(plan: ConvNeXtPlan, ctx: EmitContext) -> list[Argument]:
    args = shape_arguments(plan, kernel_default=7)
    if plan.expansion != 4:
        args.append(("expansion", plan.expansion))
    if plan.layer_scale != 1e-6:
        args.append(("layer_scale", plan.layer_scale))
    if not plan.residual:
        args.append(("skip", False))
    if plan.grn:
        args.append(("grn", True))
    return [*args, drop_path_argument(plan)]


def parts(plan: ConvNeXtPlan) -> frozenset[str]:
    # The class always holds its DropPath, and its norms are the spec's (layer norm).
    return uses(drop_path=True, grn=plan.grn)


EMITTER = BlockEmitter(
    class_name="ConvNeXtBlock",
    template="convnext.py.j2",
    arguments=arguments,
    parts=parts,
    parameters="downsample (first block of a stage that changes the stride or width), "
    "layer_scale, dwconv, norm, fc1, grn (ConvNeXt V2), fc2",
)
