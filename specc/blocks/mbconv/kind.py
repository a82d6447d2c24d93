"""The `mbconv` kind's record (see `specc.blocks.kind`)."""

from __future__ import annotations

from specc.blocks.kind import BlockKind
from specc.blocks.mbconv import emit
from specc.blocks.mbconv.lower import lower
from specc.blocks.mbconv.plan import MBConvPlan, plan
from specc.blocks.mbconv.schema import MBConvStage

KIND: BlockKind[MBConvStage, MBConvPlan] = BlockKind(
    name="mbconv",
    schema=MBConvStage,
    plan=plan,
    lower=lower,
    emitter=emit.EMITTER,
    describe=emit.describe,
    columns=emit.columns,
)
