"""The `uib` stage: MobileNetV4's universal inverted bottleneck (Qin et al., 2024; timm's
`UniversalInvertedResidual`, block string `uir`).

    x -> [k_start x k_start depthwise, norm]          (`start_kernel`, timm `a`; no act)
      -> 1x1 expand, norm, act                         (always, to the expanded width)
      -> [k x k depthwise, norm, act]                  (`mid: true`, timm `k` > 0)
      -> 1x1 project, norm
      -> [k_end x k_end depthwise, norm]               (`end_kernel`, timm `p`; no act)
      -> [drop path, + x]                              (stride 1 and in == out, `skip`)

The stride sits on the middle depthwise conv, else on the start one, else on the end one.
Its variants: ExtraDW (start and middle), IB (middle only: an inverted residual whose 1x1
expansion exists at ratio 1 too), ConvNeXt-like (start only), FFN (neither). The expanded
width follows the expansion part (`expand`, `expanded`, `expand_in`), rounded by
`scaling.expansion` (timm rounds it like channels: `round_channels`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from specc.blocks.kind import StageBase
from specc.lang.parts import Expansion
from specc.lang.types import Kernel


class UIBStage(StageBase, Expansion):
    """A stage of universal inverted bottlenecks."""

    block: Literal["uib"]
    kernel: Kernel = 3
    mid: bool = Field(True, description="the middle k x k depthwise conv (false: timm's k0)")
    start_kernel: int = Field(
        0, ge=0, le=31, description="depthwise conv before the expansion (timm's a); 0: none"
    )
    end_kernel: int = Field(
        0, ge=0, le=31, description="depthwise conv after the projection (timm's p); 0: none"
    )
    skip: bool = Field(True, description="residual when stride 1 and in == out (timm noskip)")

    @model_validator(mode="after")
    def _depthwise_kernels(self) -> UIBStage:
        for name in ("start_kernel", "end_kernel"):
            size = getattr(self, name)
            if size and size % 2 == 0:
                raise ValueError(f"{name} must be odd so that padding is symmetric, got {size}")
        if self.stride > 1 and not (self.mid or self.start_kernel or self.end_kernel):
            raise ValueError(
                f"stride {self.stride} needs a depthwise conv to carry it: mid: true, "
                "start_kernel or end_kernel"
            )
        return self
