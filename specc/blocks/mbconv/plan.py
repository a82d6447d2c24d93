"""One `mbconv` block's decisions: the expanded width, whether there is a 1x1 expansion
conv (and its split kernel), the SE and the residual."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.kind import BlockPlan, KernelSize, PlanContext
from specc.blocks.mbconv.schema import MBConvStage
from specc.blocks.parts.expansion import expanded_width
from specc.blocks.parts.squeeze_excite import SEPlan, plan_se


@dataclass(frozen=True, kw_only=True)
class MBConvPlan(BlockPlan):
    expanded: int
    expand_kernel: KernelSize | None  # the 1x1 expansion conv (split: (1, 1)); None: none
    project_kernel: KernelSize  # 1, or (1, ..., 1) for a split projection
    se: SEPlan | None
    residual: bool


def split_kernel(splits: int) -> KernelSize:
    """A 1x1 conv as `splits` dense convs over channel groups: (1,) * splits (timm a/p)."""
    return (1,) * splits if splits > 1 else 1


def plan(stage: MBConvStage, site: BlockPlan, ctx: PlanContext) -> MBConvPlan:
    expanded = expanded_width(stage, site.in_channels, ctx)
    expands = expanded != site.in_channels or stage.expand_conv == "always"
    return MBConvPlan.of(
        site,
        expanded=expanded,
        expand_kernel=split_kernel(stage.expand_splits) if expands else None,
        project_kernel=split_kernel(stage.project_splits),
        se=plan_se(stage.se, site.in_channels, expanded, ctx.rules),
        residual=stage.skip and site.keeps_shape,
    )
