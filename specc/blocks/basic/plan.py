"""One `basic` block's decision: whether the shortcut projects."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.basic.schema import BasicStage
from specc.blocks.kind import BlockPlan, PlanContext
from specc.blocks.parts.residual import needs_projection, pools_shortcut


@dataclass(frozen=True, kw_only=True)
class BasicPlan(BlockPlan):
    projection: bool  # the shortcut is a strided 1x1 conv + norm
    avg_down: bool  # ResNet-D: the projection's stride is a 2x2 average pool before it


def plan(stage: BasicStage, site: BlockPlan, ctx: PlanContext) -> BasicPlan:
    projection = needs_projection(stage.shortcut, site.in_channels, site.out_channels, site.stride)
    avg_down = pools_shortcut(stage.shortcut, projection, site.stride)
    return BasicPlan.of(site, projection=projection, avg_down=avg_down)
