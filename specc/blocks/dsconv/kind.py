"""The `dsconv` kind's record (see `specc.blocks.kind`)."""

from __future__ import annotations

from specc.blocks.dsconv import emit
from specc.blocks.dsconv.lower import lower
from specc.blocks.dsconv.plan import DSConvPlan, plan
from specc.blocks.dsconv.schema import DSConvStage
from specc.blocks.kind import BlockKind

KIND: BlockKind[DSConvStage, DSConvPlan] = BlockKind(
    name="dsconv",
    schema=DSConvStage,
    plan=plan,
    lower=lower,
    emitter=emit.EMITTER,
    columns=emit.columns,
)
