"""The `convnext` stage: the ConvNeXt block (Liu et al., 2022).

    x -> [downsample: norm, k x k conv with bias, k = stride]   (first block of a stage
                                      that changes the stride or the width, as ConvNeXt's
                                      downsampling layer between stages)
      -> k x k depthwise conv (bias) -> norm -> 1x1 expand (x expansion, bias) -> act
      -> [GRN] -> 1x1 project (bias) -> [layer scale] -> drop path -> + x

The norm is the spec's (`defaults.norm.kind: layernorm`, over channels, as ConvNeXt uses it);
the 1x1s are convolutions (torchvision's nn.Linear weights [4C, C] import into them by
shape). Layer scale is a learned per-channel factor initialised to `layer_scale` (1e-6). `grn: true`
is ConvNeXt V2's block (Woo et al., 2023): a global response norm (`GlobalResponseNorm`,
timm's) on the expanded width, and no layer scale.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from specc.blocks.kind import StageBase
from specc.lang.types import Kernel


class ConvNeXtStage(StageBase):
    """A stage of ConvNeXt blocks."""

    block: Literal["convnext"]
    kernel: Kernel = 7
    expansion: int = Field(4, ge=1, le=16, description="MLP width / block width")
    layer_scale: float | None = Field(
        1e-6, gt=0.0, le=1.0, description="initial layer scale; null for none"
    )
    skip: bool = Field(True, description="the residual connection")
    grn: bool = Field(
        False,
        description="a global response norm after the MLP's activation (ConvNeXt V2, whose "
        "blocks have no layer scale: set layer_scale: null)",
    )

    @model_validator(mode="after")
    def _scale_needs_residual(self) -> ConvNeXtStage:
        if self.layer_scale is not None and not self.skip:
            raise ValueError(
                "layer_scale scales the residual branch: a block without residual "
                "(skip: false) cannot have one; set layer_scale: null"
            )
        return self
