"""The `mbconv` stage: the inverted residual block of MobileNetV2/V3, EfficientNet, MixNet
and FBNet (TF's MBConv, timm's `ir`, torchvision's InvertedResidual).

    x -> [1x1 expand, norm, act]    (when the expanded width differs from the input, or
                                     always with `expand_conv: always`, as timm's `ir`)
      -> k x k depthwise, norm, act (carries the stride; `kernel: [3, 5, 7]` mixes kernels)
      -> [squeeze-excitation]       (the SE part: `se`)
      -> 1x1 project, norm          (linear: no activation)
      -> [drop path, + x]           (stride 1, in == out channels and `skip`)

The expanded width follows the expansion part (`specc.lang.parts.Expansion`).
`expand_splits`/`project_splits` split the 1x1 convs into that many dense convs over
channel groups (MixNet's `a1.1`/`p1.1`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.blocks.kind import StageBase
from specc.lang.parts import Expansion, SEField, Splits


class MBConvStage(StageBase, Expansion):
    """A stage of inverted residual blocks."""

    block: Literal["mbconv"]
    mixed_kernels = True
    se: SEField = None
    skip: bool = Field(True, description="residual when stride 1 and in == out (TF noskip)")
    expand_conv: Literal["auto", "always"] = Field(
        "auto", description="auto: no 1x1 expansion when the width does not change"
    )
    expand_splits: Splits = 1
    project_splits: Splits = 1
