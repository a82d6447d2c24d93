"""The `bottleneck` stage: the ResNet v1.5 bottleneck, and its grouped descendants (ResNeXt,
RegNet-X/Y).

    x -> 1x1 reduce, norm, act -> k x k spatial, norm, act (carries the stride, as in v1.5;
         grouped: `groups` + `width_per_group` (ResNeXt) or `group_width` (RegNet))
      -> [squeeze-excitation] (the SE part: RegNet-Y)
      -> 1x1 expand, norm -> drop path -> + shortcut(x) -> act

`channels` is the block output; the inner width is channels / expansion (4 for ResNet, 1 for
RegNet). Under a width multiplier the inner width is rounded and the output is expansion x
that, as torchvision's `planes * expansion`. Grouped inner widths follow their references:
ResNeXt's int(planes x width_per_group / 64) x groups; RegNet's rounding of the inner width
to a multiple of the group width (the group width shrinks to the inner width when wider).
The shortcut is a strided 1x1 projection when the shape changes (`shortcut: auto`), or
forced either way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from specc.blocks.kind import StageBase
from specc.lang.parts import SEField, Shortcut
from specc.lang.types import Channels, Groups


class BottleneckStage(StageBase):
    """A stage of ResNet bottleneck blocks."""

    block: Literal["bottleneck"]
    expansion: int = Field(4, ge=1, le=16, description="output width / inner width")
    shortcut: Shortcut = Field("auto", description="auto: project when the shape changes")
    groups: Groups | None = Field(None, description="groups of the k x k conv (ResNeXt: 32)")
    width_per_group: Channels | None = Field(
        None, description="ResNeXt: inner width = int(planes x width_per_group / 64) x groups"
    )
    group_width: Channels | None = Field(
        None, description="RegNet: channels per group; the inner width rounds to a multiple"
    )
    se: SEField = None

    @model_validator(mode="after")
    def _one_grouping(self) -> BottleneckStage:
        if self.group_width is not None and self.groups is not None:
            raise ValueError("give either `groups` or `group_width`, not both")
        if self.width_per_group is not None and self.groups is None:
            raise ValueError("`width_per_group` needs `groups` (ResNeXt 32x4d: 32 and 4)")
        return self
