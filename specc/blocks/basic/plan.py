"""One `basic` block's decision: whether the shortcut projects."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.basic.schema import BasicStage
from specc.blocks.kind import BlockPlan, PlanContext
from specc.blocks.parts.residual import needs_projection


@dataclass(frozen=True, kw_only=True)
class BasicPlan(BlockPlan):
    projection: bool  # the shortcut is a strided 1x1 conv + norm


def plan(stage: BasicStage, site: BlockPlan, ctx: PlanContext) -> BasicPlan:
    projection = needs_projection(stage.shortcut, site.in_channels, site.out_channels, site.stride)
    return BasicPlan.of(site, projection=projection)
