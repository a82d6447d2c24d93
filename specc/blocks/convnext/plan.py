"""One `convnext` block's decisions: the downsampling layer, the MLP width, the layer scale
and the residual."""

from __future__ import annotations

from dataclasses import dataclass

from specc.blocks.convnext.schema import ConvNeXtStage
from specc.blocks.kind import BlockPlan, PlanContext


@dataclass(frozen=True, kw_only=True)
class ConvNeXtPlan(BlockPlan):
    expansion: int
    layer_scale: float | None  # the initial value; None: no layer scale
    downsample: bool  # norm + k x k stride-k conv first (the stride or the width changes)
    residual: bool
    grn: bool  # a global response norm between the activation and the projection

    @property
    def kernel_size(self) -> int:
        assert isinstance(self.kernel, int)  # the schema takes one kernel
        return self.kernel


def plan(stage: ConvNeXtStage, site: BlockPlan, ctx: PlanContext) -> ConvNeXtPlan:
    return ConvNeXtPlan.of(
        site,
        expansion=stage.expansion,
        layer_scale=stage.layer_scale,
        downsample=not site.keeps_shape,
        residual=stage.skip,
        grn=stage.grn,
    )
