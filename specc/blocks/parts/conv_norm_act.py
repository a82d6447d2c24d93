"""The conv-norm-act part: convolution (one kernel, or a MixConv list), the spec's norm and
an optional activation; also the stem and head layers, which are one such part each.

`conv_norm_act` lowers one layer into nodes named `<prefix>.conv`, `<prefix>.bn`,
`<prefix>.act`, the attribute names of the generated `ConvNormAct`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from specc.blocks.kind import Argument, Code, EmitContext, KernelSize, LowerContext
from specc.blocks.parts.arguments import activation_argument
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import Act, Conv, MaxPool, MixConv, Norm, conv_padding


def split_channels(channels: int, parts: int) -> tuple[int, ...]:
    """Channels split over `parts` groups as MixConv does: equal shares, the remainder to the
    first (MixNet's reference, and timm's `_split_channels`)."""
    share = channels // parts
    return (channels - share * (parts - 1), *([share] * (parts - 1)))


def conv_norm_act(
    builder: GraphBuilder,
    prefix: str,
    x: str,
    scope: Scope,
    *,
    out_channels: int,
    kernel: KernelSize,
    stride: int,
    groups: int,
    activation: str | None,
    ctx: LowerContext,
    bias: bool = False,
    norm: bool = True,
    padding: int | None = None,
) -> str:
    """Lower one conv-norm-(act) layer reading tensor `x`; returns the output node id.
    `norm=False` leaves the norm out (VGG without batch norm; the module's `bn` is an
    identity). `padding` overrides the padding of a single kernel on every side.

    A tuple `kernel` is a mixed conv (MixConv): the channels are split over the kernels
    (`split_channels`), each split convolved with its own kernel, depthwise when `groups`
    equals the width, dense within its split otherwise (MixNet's split 1x1s). An even kernel
    is a patchify conv (kernel == stride, no padding).
    """
    in_channels, size = builder.shape(x)[0], builder.shape(x)[-1]
    mode = ctx.defaults.padding
    conv: Conv | MixConv
    if isinstance(kernel, tuple):
        conv = MixConv(
            in_channels=in_channels, out_channels=out_channels, kernels=kernel, stride=stride,
            in_splits=split_channels(in_channels, len(kernel)),
            out_splits=split_channels(out_channels, len(kernel)), depthwise=groups > 1,
            bias=bias, paddings=tuple(conv_padding(size, k, stride, mode) for k in kernel),
        )  # fmt: skip
    else:
        pads = (0, 0, 0, 0) if kernel % 2 == 0 else conv_padding(size, kernel, stride, mode)
        if padding is not None:
            pads = (padding,) * 4
        conv = Conv(
            in_channels=in_channels, out_channels=out_channels, kernel=kernel, stride=stride,
            groups=groups, padding=pads, bias=bias,
        )  # fmt: skip
    out = builder.add(f"{prefix}.conv", conv, [x], scope)
    if norm:
        out = norm_layer(builder, f"{prefix}.bn", out, scope, ctx)
    if activation is not None:
        out = builder.add(f"{prefix}.act", Act(activation), [out], scope)
    return out


def norm_layer(builder: GraphBuilder, name: str, x: str, scope: Scope, ctx: LowerContext) -> str:
    """The spec's norm (batch norm, or layer norm over channels) on `x`."""
    norm = ctx.defaults.norm
    return builder.add(name, Norm(norm.kind, norm.eps, norm.momentum), [x], scope)


def padding_argument(kernel: KernelSize, stride: int, ctx: EmitContext) -> list[Argument]:
    """`padding=` for a generated ConvNormAct where it is not the default kernel // 2:
    "same" for a strided conv under TF 'same' padding (computed from each input's size, so
    any input size pads as TensorFlow does), 0 for a patchify conv (even kernel)."""
    if ctx.defaults.padding == "same" and stride > 1:
        return [("padding", Code('"same"'))]
    if isinstance(kernel, int) and kernel % 2 == 0:
        return [("padding", 0)]
    return []


@dataclass(frozen=True)
class LayerPlan:
    """The stem or the head: one conv-norm-act layer; the stem may end in a max pool."""

    name: str  # "stem" or "head": the module path
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    activation: str  # "identity" for none
    pool: MaxPool | None = None  # the stem's max pool
    bias: bool = False
    norm: bool = True  # False: no norm after the conv
    deep: tuple[int, ...] = ()  # a deep stem's inner widths (ResNet-C/D), before out_channels
    padding: int | None = None  # every side; None: the default (kernel // 2 or TF same)

    def convs(self) -> list[LayerPlan]:
        """The layer's convs, one plan each: itself, or a deep stem's `stem.0`, `stem.1`, ...
        (k x k each, the first carrying the stride, the last to `out_channels`)."""
        if not self.deep:
            return [self]
        widths = (*self.deep, self.out_channels)
        ins = (self.in_channels, *widths[:-1])
        return [
            replace(self, name=f"{self.name}.{i}", in_channels=cin, out_channels=cout,
                    stride=self.stride if i == 0 else 1, pool=None, deep=())
            for i, (cin, cout) in enumerate(zip(ins, widths, strict=True))
        ]  # fmt: skip

    @property
    def reduction(self) -> int:
        return self.stride * (self.pool.stride if self.pool else 1)


def lower_layer(builder: GraphBuilder, layer: LayerPlan, x: str, ctx: LowerContext) -> str:
    """The stem's or the head's conv-norm-act, or a deep stem's convs (without the stem's
    pool: `lower_pool`)."""
    for conv in layer.convs():
        x = conv_norm_act(
            builder, conv.name, x, Scope(layer.name), out_channels=conv.out_channels,
            kernel=conv.kernel, stride=conv.stride, groups=1,
            activation=None if conv.activation == "identity" else conv.activation, ctx=ctx,
            bias=conv.bias, norm=conv.norm, padding=conv.padding,
        )  # fmt: skip
    return x


def lower_pool(builder: GraphBuilder, layer: LayerPlan, x: str) -> str:
    """The max pool that ends the stem (ResNet), node `stem_pool`."""
    assert layer.pool is not None
    return builder.add(f"{layer.name}_pool", layer.pool, [x], Scope("stem"))


def layer_arguments(layer: LayerPlan, ctx: EmitContext) -> list[Argument]:
    """The generated `ConvNormAct(...)` call of the stem or the head."""
    args: list[Argument] = [(None, layer.in_channels), (None, layer.out_channels)]
    args.append((None, layer.kernel))
    if layer.stride != 1:
        args.append(("stride", layer.stride))
    if layer.padding is not None:
        args.append(("padding", layer.padding))
    else:
        args += padding_argument(layer.kernel, layer.stride, ctx)
    if layer.bias:
        args.append(("bias", True))
    if not layer.norm:
        args.append(("norm", False))
    return args + activation_argument(layer.activation, ctx.defaults.activation)
