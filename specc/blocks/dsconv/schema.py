"""The `dsconv` stage: depthwise-separable convolution (MobileNetV1; timm's `ds`/`dsa`).

    x -> k x k depthwise, norm, act (carries the stride; `kernel: [3, 5]` mixes kernels)
      -> [squeeze-excitation]       (the SE part: `se`)
      -> 1x1 pointwise, norm, [act] (`pointwise_act`: MobileNetV1 and timm's `dsa` have it,
                                     timm's `ds` is linear)
      -> [drop path, + x]           (with `skip`, when stride is 1 and in == out; off by
                                     default: MobileNetV1 has no residual)

The SE ratio's base widths coincide here (no expansion).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.blocks.kind import StageBase
from specc.lang.parts import SEField


class DSConvStage(StageBase):
    """A stage of depthwise-separable convolutions."""

    block: Literal["dsconv"]
    mixed_kernels = True
    se: SEField = None
    pointwise_act: bool = Field(True, description="activation after the 1x1 (MobileNetV1)")
    skip: bool = Field(False, description="residual when stride 1 and in == out (timm ds)")
