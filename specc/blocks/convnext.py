"""Block kind `convnext`: the ConvNeXt block (Liu et al., 2022).

    x -> [downsample: norm, k x k conv with bias, k = stride]   (first block of a stage
                                      that changes the stride or the width, as ConvNeXt's
                                      downsampling layer between stages)
      -> k x k depthwise conv (bias) -> norm -> 1x1 expand (x expansion, bias) -> act
      -> 1x1 project (bias) -> [layer scale] -> drop path -> + x

The norm is the spec's (`defaults.norm.kind: layernorm`, over channels, as ConvNeXt uses it);
the 1x1s are convolutions (torchvision's nn.Linear weights [4C, C] import into them by
shape). Layer scale is a learned per-channel factor initialised to `layer_scale` (1e-6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from specc.blocks.base import (
    Argument,
    BlockKind,
    LowerContext,
    ResolvedBlock,
    StageBase,
    WidthContext,
    drop_path_argument,
    shape_arguments,
)
from specc.blocks.conv import norm_layer
from specc.blocks.residual import residual_join
from specc.ir.ops import conv_padding
from specc.spec.types import Kernel

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder


class ConvNeXtStage(StageBase):
    """A stage of ConvNeXt blocks."""

    block: Literal["convnext"]
    kernel: Kernel = 7
    expansion: int = Field(4, ge=1, le=16, description="MLP width / block width")
    layer_scale: float | None = Field(
        1e-6, gt=0.0, le=1.0, description="initial layer scale; null for none"
    )
    skip: bool = Field(True, description="the residual connection")

    @model_validator(mode="after")
    def _scale_needs_residual(self) -> ConvNeXtStage:
        if self.layer_scale is not None and not self.skip:
            raise ValueError(
                "layer_scale scales the residual branch: a block without residual "
                "(skip: false) cannot have one; set layer_scale: null"
            )
        return self


def _resolve(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, widths: WidthContext
) -> dict[str, Any]:
    assert isinstance(stage, ConvNeXtStage)
    return {
        "expansion": stage.expansion,
        "layer_scale": stage.layer_scale,
        "downsample": stride > 1 or in_channels != out_channels,
        "residual": stage.skip,
    }


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.ir.graph import Scope

    def scope(role: str) -> Scope:
        return Scope("stage", block.stage, block.index, role)

    def conv(name: str, source: str, out: int, kernel: int, stride: int, groups: int) -> str:
        size = builder.shape(source)[-1]
        padding = (0, 0, 0, 0) if kernel == stride else conv_padding(size, kernel, 1, "symmetric")
        return builder.add(
            f"{block.name}.{name}", "conv", [source], scope(name.split(".")[0]),
            in_channels=builder.shape(source)[0], out_channels=out, kernel=kernel, stride=stride,
            groups=groups, padding=padding, bias=True,
        )  # fmt: skip

    width, extra = block.out_channels, block.extra
    if extra["downsample"]:
        x = norm_layer(builder, f"{block.name}.downsample.0", x, scope("downsample"), ctx)
        x = conv("downsample.1", x, width, block.stride, block.stride, 1)
    assert isinstance(block.kernel, int)
    out = conv("dwconv", x, width, block.kernel, 1, width)
    out = norm_layer(builder, f"{block.name}.norm", out, scope("norm"), ctx)
    out = conv("fc1", out, extra["expansion"] * width, 1, 1, 1)
    out = builder.add(f"{block.name}.act", "act", [out], scope("act"), fn=block.activation)
    out = conv("fc2", out, width, 1, 1, 1)
    if extra["layer_scale"] is not None:
        out = builder.add(f"{block.name}.layer_scale", "layer_scale", [out], scope("layer_scale"))
    if not extra["residual"]:
        return out
    return residual_join(builder, block.name, out, x, scope("residual"), drop_path=block.drop_path)


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    extra = block.extra
    args = shape_arguments(block, kernel_default=7)
    if extra["expansion"] != 4:
        args.append(("expansion", extra["expansion"]))
    if extra["layer_scale"] != 1e-6:
        args.append(("layer_scale", extra["layer_scale"]))
    if not extra["residual"]:
        args.append(("skip", False))
    return [*args, drop_path_argument(block)]


KIND = BlockKind(
    name="convnext",
    schema=ConvNeXtStage,
    resolve=_resolve,
    lower=_lower,
    class_name="ConvNeXtBlock",
    template="convnext.py.j2",
    requires=("layer_norm.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    parts="downsample (first block of a stage that changes the stride or width), layer_scale, "
    "dwconv, norm, fc1, fc2",
)
