"""One `bottleneck` block's decisions: the inner width and groups, the SE and whether the
shortcut projects; and the stage's output width (expansion x a rounded inner width)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from specc.blocks.bottleneck.schema import BottleneckStage
from specc.blocks.kind import BlockPlan, PlanContext
from specc.blocks.parts.residual import needs_projection, pools_shortcut
from specc.blocks.parts.squeeze_excite import SEPlan, plan_se
from specc.scaling.arith import Number


@dataclass(frozen=True, kw_only=True)
class BottleneckPlan(BlockPlan):
    width: int  # the inner (k x k) width
    groups: int
    se: SEPlan | None
    projection: bool  # the shortcut is a strided 1x1 conv + norm
    avg_down: bool  # ResNet-D: the projection's stride is a 2x2 average pool before it


def channels(stage: BottleneckStage, round_width: Callable[[Number], int]) -> int:
    """expansion x the rounded inner width (an exact fraction: float(c / e) under float
    arithmetic, exact under decimal)."""
    return stage.expansion * round_width(Fraction(stage.channels, stage.expansion))


def round_to_group_width(width: int, group_width: int) -> int:
    """RegNet's rule: a bottleneck width is a multiple of its group width (the group width
    shrinks to the width when wider)."""
    group = min(group_width, width)
    return int(round(width / group) * group)


def inner_width(stage: BottleneckStage, out_channels: int) -> tuple[int, int]:
    """(inner width, groups) of the k x k conv of a block with `out_channels`."""
    planes = out_channels // stage.expansion
    if stage.group_width is not None:
        width = round_to_group_width(planes, stage.group_width)
        return width, width // min(stage.group_width, width)
    if stage.width_per_group is not None:
        assert stage.groups is not None  # the schema requires groups with width_per_group
        return int(planes * (stage.width_per_group / 64.0)) * stage.groups, stage.groups
    return planes, stage.groups or 1


def plan(stage: BottleneckStage, site: BlockPlan, ctx: PlanContext) -> BottleneckPlan:
    width, groups = inner_width(stage, site.out_channels)
    projection = needs_projection(stage.shortcut, site.in_channels, site.out_channels, site.stride)
    return BottleneckPlan.of(
        site,
        width=width,
        groups=groups,
        se=plan_se(stage.se, site.in_channels, width, ctx.rules),
        projection=projection,
        avg_down=pools_shortcut(stage.shortcut, projection, site.stride),
    )
