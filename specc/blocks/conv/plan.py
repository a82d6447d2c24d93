"""One `conv` block's decision: the residual."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.conv.schema import ConvStage
from specc.blocks.kind import BlockPlan, PlanContext


@dataclass(frozen=True, kw_only=True)
class ConvPlan(BlockPlan):
    residual: bool


def plan(stage: ConvStage, site: BlockPlan, ctx: PlanContext) -> ConvPlan:
    return ConvPlan.of(site, residual=stage.skip and site.keeps_shape)
