"""One `dsconv` block's decisions: the SE, the pointwise activation and the residual."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.dsconv.schema import DSConvStage
from specc.blocks.kind import BlockPlan, PlanContext
from specc.blocks.parts.squeeze_excite import SEPlan, plan_se


@dataclass(frozen=True, kw_only=True)
class DSConvPlan(BlockPlan):
    se: SEPlan | None
    pointwise_act: bool
    residual: bool


def plan(stage: DSConvStage, site: BlockPlan, ctx: PlanContext) -> DSConvPlan:
    return DSConvPlan.of(
        site,
        se=plan_se(stage.se, site.in_channels, site.in_channels, ctx.rules),
        pointwise_act=stage.pointwise_act,
        residual=stage.skip and site.keeps_shape,
    )
