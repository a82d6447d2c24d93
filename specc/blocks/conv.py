"""Block kind `conv`: convolution, batch norm, activation (also the stem and the head).

`conv_norm_act` is the lowering other kinds reuse for their own conv-norm-act layers;
its nodes are named `<prefix>.conv`, `<prefix>.bn`, `<prefix>.act`, the attribute names of
the generated `ConvNormAct` module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from specc.blocks.base import (
    Argument,
    BlockKind,
    Code,
    LowerContext,
    ResolvedBlock,
    StageBase,
    WidthContext,
    drop_path_argument,
    shape_arguments,
)
from specc.blocks.parts import split_channels
from specc.ir.ops import conv_padding

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder, Scope


class ConvStage(StageBase):
    """A stage of plain conv-norm-act layers (timm's `cn`)."""

    block: Literal["conv"]
    skip: bool = Field(False, description="residual when stride 1 and in == out (timm cn skip)")


def _resolve(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, widths: WidthContext
) -> dict[str, Any]:
    assert isinstance(stage, ConvStage)
    return {"residual": stage.skip and stride == 1 and in_channels == out_channels}


def conv_norm_act(
    builder: GraphBuilder,
    prefix: str,
    x: str,
    scope: Scope,
    *,
    out_channels: int,
    kernel: int | tuple[int, ...],
    stride: int,
    groups: int,
    activation: str | None,
    ctx: LowerContext,
    bias: bool = False,
    norm: bool = True,
) -> str:
    """Lower one conv-norm-(act) layer reading tensor `x`; returns the output node id.

    A tuple `kernel` is a mixed conv (MixConv): the channels are split over the kernels
    (`specc.blocks.parts.split_channels`), each split convolved with its own kernel, depthwise
    when `groups` equals the width, dense within its split otherwise (MixNet's split 1x1s).
    An even kernel is a patchify conv (kernel == stride, no padding).
    """
    in_channels, size = builder.shape(x)[0], builder.shape(x)[-1]
    mode = ctx.defaults.padding
    name = f"{prefix}.conv"
    if isinstance(kernel, tuple):
        in_splits = split_channels(in_channels, len(kernel))
        out_splits = split_channels(out_channels, len(kernel))
        out = builder.add(
            name, "mixconv", [x], scope, in_channels=in_channels, out_channels=out_channels,
            kernels=kernel, stride=stride, in_splits=in_splits, out_splits=out_splits,
            depthwise=groups > 1, bias=bias,
            paddings=tuple(conv_padding(size, k, stride, mode) for k in kernel),
        )  # fmt: skip
    else:
        padding = (0, 0, 0, 0) if kernel % 2 == 0 else conv_padding(size, kernel, stride, mode)
        out = builder.add(
            name, "conv", [x], scope, in_channels=in_channels, out_channels=out_channels,
            kernel=kernel, stride=stride, groups=groups, padding=padding, bias=bias,
        )  # fmt: skip
    if norm:
        out = norm_layer(builder, f"{prefix}.bn", out, scope, ctx)
    if activation is not None:
        out = builder.add(f"{prefix}.act", "act", [out], scope, fn=activation)
    return out


def norm_layer(builder: GraphBuilder, name: str, x: str, scope: Scope, ctx: LowerContext) -> str:
    """The spec's norm (batch norm, or layer norm over channels) on `x`."""
    norm = ctx.defaults.norm
    return builder.add(
        name, "norm", [x], scope, kind=norm.kind, eps=norm.eps, momentum=norm.momentum
    )


def _lower(builder: GraphBuilder, block: ResolvedBlock, x: str, ctx: LowerContext) -> str:
    from specc.blocks.residual import residual_join
    from specc.ir.graph import Scope

    out = conv_norm_act(
        builder,
        block.name,
        x,
        Scope("stage", block.stage, block.index, "conv"),
        out_channels=block.out_channels,
        kernel=block.kernel,
        stride=block.stride,
        groups=1,
        activation=block.activation,
        ctx=ctx,
    )
    if not block.extra.get("residual"):
        return out
    scope = Scope("stage", block.stage, block.index, "residual")
    return residual_join(builder, block.name, out, x, scope, drop_path=block.drop_path)


def padding_argument(
    nodes: Mapping[str, Any], conv: str, stride: int, ctx: LowerContext
) -> list[Argument]:
    """`padding=` for a generated ConvNormAct where it is not the default kernel // 2:
    "same" for a strided conv under TF 'same' padding (computed from each input's size, so
    any input size pads as TensorFlow does), 0 for a patchify conv (even kernel)."""
    if ctx.defaults.padding == "same" and stride > 1:
        return [("padding", Code('"same"'))]
    kernel = nodes[conv]["attrs"].get("kernel")
    if isinstance(kernel, int) and kernel % 2 == 0:
        return [("padding", 0)]
    return []


def _arguments(block: ResolvedBlock, nodes: Mapping[str, Any], ctx: LowerContext) -> list[Argument]:
    args = shape_arguments(block, positional_kernel=True)
    args += padding_argument(nodes, f"{block.name}.conv", block.stride, ctx)
    if block.extra.get("residual"):
        args += [("skip", True), drop_path_argument(block)]
    return args


# Stages of this kind are `ConvBlock`s (a ConvNormAct with an optional residual); the stem
# and the head are plain `ConvNormAct`s lowered by `conv_norm_act` and emitted with the same
# arguments.
KIND = BlockKind(
    name="conv",
    schema=ConvStage,
    resolve=_resolve,
    lower=_lower,
    class_name="ConvBlock",
    template="conv_block.py.j2",
    requires=("conv.py.j2", "drop_path.py.j2"),
    arguments=_arguments,
    parts="conv, bn",
)
