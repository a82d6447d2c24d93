"""The `conv` kind's record (see `specc.blocks.kind`)."""

from __future__ import annotations

from specc.blocks.conv import emit
from specc.blocks.conv.lower import lower
from specc.blocks.conv.plan import ConvPlan, plan
from specc.blocks.conv.schema import ConvStage
from specc.blocks.kind import BlockKind

KIND: BlockKind[ConvStage, ConvPlan] = BlockKind(
    name="conv",
    schema=ConvStage,
    plan=plan,
    lower=lower,
    emitter=emit.EMITTER,
)
