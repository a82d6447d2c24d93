"""One `fused_mbconv` block's decisions: the expanded width, whether a 1x1 projection
follows the fused conv, the SE and the residual."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.fused_mbconv.schema import FusedMBConvStage
from specc.blocks.kind import BlockPlan, PlanContext
from specc.blocks.parts.expansion import expanded_width
from specc.blocks.parts.squeeze_excite import SEPlan, plan_se


@dataclass(frozen=True, kw_only=True)
class FusedMBConvPlan(BlockPlan):
    expanded: int
    # a 1x1 projection follows (expanded != in, or expand_conv: always); else the fused conv
    # maps to out
    projects: bool
    se: SEPlan | None
    residual: bool

    @property
    def fused_width(self) -> int:
        """The fused conv's output width."""
        return self.expanded if self.projects else self.out_channels


def plan(stage: FusedMBConvStage, site: BlockPlan, ctx: PlanContext) -> FusedMBConvPlan:
    expanded = expanded_width(stage, site.in_channels, ctx)
    return FusedMBConvPlan.of(
        site,
        expanded=expanded,
        projects=expanded != site.in_channels or stage.expand_conv == "always",
        se=plan_se(stage.se, site.in_channels, expanded, ctx.rules),
        residual=stage.skip and site.keeps_shape,
    )
