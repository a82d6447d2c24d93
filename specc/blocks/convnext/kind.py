"""The `convnext` kind's record (see `specc.blocks.kind`)."""

from __future__ import annotations

from specc.blocks.convnext import emit
from specc.blocks.convnext.lower import lower
from specc.blocks.convnext.plan import ConvNeXtPlan, plan
from specc.blocks.convnext.schema import ConvNeXtStage
from specc.blocks.kind import BlockKind

KIND: BlockKind[ConvNeXtStage, ConvNeXtPlan] = BlockKind(
    name="convnext",
    schema=ConvNeXtStage,
    plan=plan,
    lower=lower,
    emitter=emit.EMITTER,
)
