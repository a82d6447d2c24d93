"""One `conv` block's decision: the residual."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.conv.schema import ConvStage
from specc.blocks.kind import BlockPlan, PlanContext


@dataclass(frozen=True, kw_only=True)
class ConvPlan(BlockPlan):
    residual: bool
    bias: bool  # the conv has a bias
    norm: bool  # the spec's norm follows the conv


def plan(stage: ConvStage, site: BlockPlan, ctx: PlanContext) -> ConvPlan:
    residual = stage.skip and site.keeps_shape
    return ConvPlan.of(site, residual=residual, bias=stage.bias, norm=stage.norm)
