"""The `bottleneck` kind's record (see `specc.blocks.kind`)."""

from __future__ import annotations

from specc.blocks.bottleneck import emit
from specc.blocks.bottleneck.lower import lower
from specc.blocks.bottleneck.plan import BottleneckPlan, channels, plan
from specc.blocks.bottleneck.schema import BottleneckStage
from specc.blocks.kind import BlockKind

KIND: BlockKind[BottleneckStage, BottleneckPlan] = BlockKind(
    name="bottleneck",
    schema=BottleneckStage,
    plan=plan,
    lower=lower,
    emitter=emit.EMITTER,
    channels=channels,
    columns=emit.columns,
)
