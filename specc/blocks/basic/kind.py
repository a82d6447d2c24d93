"""The `basic` kind's record (see `specc.blocks.kind`)."""

from __future__ import annotations

from specc.blocks.basic import emit
from specc.blocks.basic.lower import lower
from specc.blocks.basic.plan import BasicPlan, plan
from specc.blocks.basic.schema import BasicStage
from specc.blocks.kind import BlockKind

KIND: BlockKind[BasicStage, BasicPlan] = BlockKind(
    name="basic",
    schema=BasicStage,
    plan=plan,
    lower=lower,
    emitter=emit.EMITTER,
)
