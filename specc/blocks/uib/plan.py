"""One `uib` block's decisions: which depthwise convs exist and which carries the stride,
the expanded width and the residual."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.kind import BlockPlan, PlanContext
from specc.blocks.parts.expansion import expanded_width
from specc.blocks.uib.schema import UIBStage


@dataclass(frozen=True, kw_only=True)
class UIBPlan(BlockPlan):
    expanded: int
    start_kernel: int  # 0: no depthwise conv before the expansion
    mid: bool  # the middle depthwise conv (kernel: the stage's)
    end_kernel: int  # 0: no depthwise conv after the projection
    residual: bool

    @property
    def kernel_size(self) -> int:
        assert isinstance(self.kernel, int)  # the schema takes one kernel
        return self.kernel

    def strides(self) -> tuple[int, int, int]:
        """(start, mid, end) strides: the middle conv carries it, else the start, else the
        end (timm)."""
        if self.mid:
            return 1, self.stride, 1
        if self.start_kernel:
            return self.stride, 1, 1
        return 1, 1, self.stride


def plan(stage: UIBStage, site: BlockPlan, ctx: PlanContext) -> UIBPlan:
    return UIBPlan.of(
        site,
        expanded=expanded_width(stage, site.in_channels, ctx),
        start_kernel=stage.start_kernel,
        mid=stage.mid,
        end_kernel=stage.end_kernel,
        residual=stage.skip and site.keeps_shape,
    )
