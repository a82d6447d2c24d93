"""The `fused_mbconv` kind's record (see `specc.blocks.kind`)."""

from __future__ import annotations

from specc.blocks.fused_mbconv import emit
from specc.blocks.fused_mbconv.lower import lower
from specc.blocks.fused_mbconv.plan import FusedMBConvPlan, plan
from specc.blocks.fused_mbconv.schema import FusedMBConvStage
from specc.blocks.kind import BlockKind

KIND: BlockKind[FusedMBConvStage, FusedMBConvPlan] = BlockKind(
    name="fused_mbconv",
    schema=FusedMBConvStage,
    plan=plan,
    lower=lower,
    emitter=emit.EMITTER,
    describe=emit.describe,
    columns=emit.columns,
)
