"""The `fused_mbconv` stage: EfficientNetV2's fused inverted residual.

    x -> k x k fused conv, norm, act   (carries the stride; in -> expanded width)
      -> [squeeze-excitation]
      -> 1x1 project, norm             (only when the expanded width differs from the input
                                        or `expand_conv: always`, timm's EdgeResidual;
                                        otherwise the fused conv maps straight to the output)
      -> [drop path, + x]              (stride 1 and in == out)

The expanded width follows the expansion part (`specc.lang.parts.Expansion`), the SE the
SE part, as in mbconv.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.blocks.kind import StageBase
from specc.lang.parts import Expansion, SEField


class FusedMBConvStage(StageBase, Expansion):
    """A stage of fused inverted residual blocks."""

    block: Literal["fused_mbconv"]
    se: SEField = None
    skip: bool = Field(True, description="residual when stride 1 and in == out (TF noskip)")
    expand_conv: Literal["auto", "always"] = Field(
        "auto",
        description="auto: at ratio 1 one k x k conv to the output (torchvision); always: "
        "the k x k conv to the expanded width and the 1x1 projection at ratio 1 too "
        "(timm's EdgeResidual, `er`)",
    )
