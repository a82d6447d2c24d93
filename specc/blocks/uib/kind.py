"""The `uib` kind's record (see `specc.blocks.kind`)."""

from __future__ import annotations

from specc.blocks.kind import BlockKind
from specc.blocks.uib import emit
from specc.blocks.uib.lower import lower
from specc.blocks.uib.plan import UIBPlan, plan
from specc.blocks.uib.schema import UIBStage

KIND: BlockKind[UIBStage, UIBPlan] = BlockKind(
    name="uib",
    schema=UIBStage,
    plan=plan,
    lower=lower,
    emitter=emit.EMITTER,
    describe=emit.describe,
    columns=emit.columns,
)
