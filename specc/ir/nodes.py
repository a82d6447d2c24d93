"""The operations of the IR, one frozen class per op: its attributes, output shape,
parameters and MACs.

Shapes exclude the batch dimension: (C, H, W) for feature maps, (C,) after flattening.
Shape inference (lowering), the validator and the analyser all call the same methods, so
they cannot disagree. `Op` is the union of every op class: the validator and the text dump
`match` over it, and mypy checks that they cover every op (`assert_never`).

What is counted:
- parameters: trainable ones only (conv and linear weights and biases, norm affine
  weight and bias, GRN's weight and bias, layer scale); norm running statistics are
  buffers and not counted, as torchvision and timm count them;
- MACs: multiply-accumulates of convolutions (the SE convs included) and linear layers.
  Norms (GRN included), activations, pooling, the SE gating multiply and residual adds
  are not counted; this is the convention of the EfficientNet paper, whose "FLOPs" are these MACs.

No torch, no networkx, no knowledge of the spec or of block kinds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from math import prod
from typing import Any, ClassVar

Shape = tuple[int, ...]
Padding = tuple[int, int, int, int]  # left, right, top, bottom (torch's ZeroPad2d order)


def format_shape(shape: Sequence[int]) -> str:
    """3x224x224; () for a shape without dimensions. The one shape formatter of specc's
    messages, tables and comments."""
    return "x".join(str(int(d)) for d in shape) if len(shape) else "()"


def conv_output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Spatial output size of a convolution (can be < 1 for a collapsing input)."""
    return (size + pad_before + pad_after - kernel) // stride + 1


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'same' padding for one axis: output ceil(size / stride), extra pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_padding(size: int, kernel: int, stride: int, mode: str) -> Padding:
    """(left, right, top, bottom) padding of a square input: TF 'same' or kernel // 2."""
    if mode == "same":
        before, after = same_padding(size, kernel, stride)
    else:
        before = after = kernel // 2
    return before, after, before, after


def _spatial(shape: Shape, kernel: int, stride: int, padding: Padding) -> tuple[int, int]:
    _, height, width = shape
    left, right, top, bottom = padding
    return (
        conv_output_size(height, kernel, stride, top, bottom),
        conv_output_size(width, kernel, stride, left, right),
    )


@dataclass(frozen=True)
class OpBase:
    """What every op answers; elementwise ops keep their first input's shape."""

    name: ClassVar[str]
    arity: ClassVar[int] = 1  # number of inputs; 0 for the graph input

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def params(self, inputs: Sequence[Shape], out: Shape) -> int:
        return 0

    def macs(self, inputs: Sequence[Shape], out: Shape) -> int:
        return 0

    def attributes(self) -> dict[str, Any]:
        """The op's attributes by name, in declaration order (text dump, graph export); an
        op's input count is not one (its inputs are listed beside it)."""
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "arity"
        }


@dataclass(frozen=True)
class Input(OpBase):
    """The network's input tensor."""

    name: ClassVar[str] = "input"
    arity: ClassVar[int] = 0
    shape: Shape

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return tuple(self.shape)


@dataclass(frozen=True)
class Conv(OpBase):
    """A 2-d convolution; `groups` = channels is a depthwise conv; an even kernel with
    kernel == stride and no padding is a patchify conv."""

    name: ClassVar[str] = "conv"
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    groups: int
    padding: Padding
    bias: bool

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return (self.out_channels, *_spatial(inputs[0], self.kernel, self.stride, self.padding))

    def _per_pixel(self) -> int:
        return self.in_channels // self.groups * self.kernel**2 * self.out_channels

    def params(self, inputs: Sequence[Shape], out: Shape) -> int:
        return self._per_pixel() + (self.out_channels if self.bias else 0)

    def macs(self, inputs: Sequence[Shape], out: Shape) -> int:
        return self._per_pixel() * max(out[1], 0) * max(out[2], 0)


@dataclass(frozen=True)
class MixConv(OpBase):
    """A conv split over channel groups with their own kernels (MixConv): split i reads
    `in_splits[i]` channels and writes `out_splits[i]`, depthwise or dense within the split;
    every split keeps the same output size, so the output is the first split's size at the
    full width."""

    name: ClassVar[str] = "mixconv"
    in_channels: int
    out_channels: int
    kernels: tuple[int, ...]
    stride: int
    in_splits: tuple[int, ...]
    out_splits: tuple[int, ...]
    depthwise: bool
    bias: bool
    paddings: tuple[Padding, ...]

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        spatial = _spatial(inputs[0], self.kernels[0], self.stride, self.paddings[0])
        return (self.out_channels, *spatial)

    def splits(self) -> list[tuple[int, int, int, int]]:
        """(in, out, kernel, groups) of each split."""
        return [
            (cin, cout, kernel, cin if self.depthwise else 1)
            for cin, cout, kernel in zip(self.in_splits, self.out_splits, self.kernels, strict=True)
        ]

    def _per_pixel(self) -> int:
        return sum(cin // groups * kernel**2 * cout for cin, cout, kernel, groups in self.splits())

    def params(self, inputs: Sequence[Shape], out: Shape) -> int:
        return self._per_pixel() + (self.out_channels if self.bias else 0)

    def macs(self, inputs: Sequence[Shape], out: Shape) -> int:
        return self._per_pixel() * max(out[1], 0) * max(out[2], 0)


@dataclass(frozen=True)
class Norm(OpBase):
    """Batch norm, or layer norm over the channels; an affine weight and bias per channel."""

    name: ClassVar[str] = "norm"
    kind: str  # "batchnorm" | "layernorm"
    eps: float
    momentum: float

    def params(self, inputs: Sequence[Shape], out: Shape) -> int:
        return 2 * inputs[0][0]


@dataclass(frozen=True)
class Act(OpBase):
    """An elementwise activation (`fn`: relu, silu, ..., sigmoid and hard_sigmoid gates)."""

    name: ClassVar[str] = "act"
    fn: str


@dataclass(frozen=True)
class GlobalPool(OpBase):
    """Global pooling to 1x1 (the classifier's and the SE's)."""

    name: ClassVar[str] = "pool"
    kind: str = "avg"

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return (inputs[0][0], 1, 1)


def pool_output_size(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """Spatial output size of a k x k pool as PyTorch computes it: with `ceil_mode` the last
    window may start inside the right padding but not past it (a window that would start in
    the padding alone is dropped), so a 7-pixel map under a 2 x 2 stride-2 pool gives 4."""
    span = size + 2 * padding - kernel
    if stride < 1:  # reported by the validator; the builder never rejects
        return size
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


@dataclass(frozen=True)
class MaxPool(OpBase):
    """A k x k max pool (ResNet's stem pool, VGG's pools between stages); `padding` on every
    side (padded with -inf, at most half the kernel); `ceil_mode` rounds the output size up
    (`pool_output_size`)."""

    name: ClassVar[str] = "maxpool"
    kernel: int
    stride: int
    padding: int
    ceil_mode: bool = False

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        _, height, width = inputs[0]
        size = partial(
            pool_output_size, kernel=self.kernel, stride=self.stride, padding=self.padding,
            ceil_mode=self.ceil_mode,
        )  # fmt: skip
        return (inputs[0][0], size(height), size(width))


@dataclass(frozen=True)
class AvgPool(OpBase):
    """A k x k average pool (ResNet-D's shortcut, DenseNet's transitions). `padding`,
    `ceil_mode` as `MaxPool`; `count_include_pad` divides by the whole window (zeros of the
    padding included, PyTorch's default) or only by the pixels inside the map (timm's
    ResNet-D shortcut: `count_include_pad=False`)."""

    name: ClassVar[str] = "avgpool"
    kernel: int
    stride: int
    padding: int
    ceil_mode: bool = False
    count_include_pad: bool = True

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        _, height, width = inputs[0]
        size = partial(
            pool_output_size, kernel=self.kernel, stride=self.stride, padding=self.padding,
            ceil_mode=self.ceil_mode,
        )  # fmt: skip
        return (inputs[0][0], size(height), size(width))


@dataclass(frozen=True)
class AdaptiveAvgPool(OpBase):
    """Average pooling to a fixed `size` x `size` map (VGG's 7 x 7 before its flattened
    classifier); `GlobalPool` is the 1 x 1 case the classifier and the SE use."""

    name: ClassVar[str] = "adaptive_avgpool"
    size: int

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return (inputs[0][0], self.size, self.size)


@dataclass(frozen=True)
class GRN(OpBase):
    """Global response norm (ConvNeXt V2, Woo et al., 2023): each channel's L2 norm over the
    map, divided by its mean over the channels (+ `eps`), scales the input;
    y = weight * (x * N(x)) + bias + x. A weight and a bias per channel: 2C parameters."""

    name: ClassVar[str] = "grn"
    eps: float = 1e-6

    def params(self, inputs: Sequence[Shape], out: Shape) -> int:
        return 2 * inputs[0][0]


@dataclass(frozen=True)
class Mul(OpBase):
    """Elementwise product with broadcasting: the SE gate scales the feature map."""

    name: ClassVar[str] = "mul"
    arity: ClassVar[int] = 2


@dataclass(frozen=True)
class LayerScale(OpBase):
    """A learned per-channel scale (ConvNeXt's layer scale): C parameters."""

    name: ClassVar[str] = "layer_scale"

    def params(self, inputs: Sequence[Shape], out: Shape) -> int:
        return inputs[0][0]


@dataclass(frozen=True)
class Add(OpBase):
    """Elementwise sum of `arity` (two or more) tensors of one shape: a residual join,
    RepVGG's summed branches."""

    name: ClassVar[str] = "add"
    arity: int = 2  # type: ignore[misc]  # an instance's input count, not the class's


@dataclass(frozen=True)
class Concat(OpBase):
    """Channel concatenation of `arity` (two or more) maps of the same size (CSP stages,
    ShuffleNet, DenseNet, GhostNet); the validator reports maps of different sizes."""

    name: ClassVar[str] = "concat"
    arity: int = 2  # type: ignore[misc]

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return (sum(shape[0] for shape in inputs), *inputs[0][1:])


@dataclass(frozen=True)
class Slice(OpBase):
    """Channels [start, stop) of the input: one part of a split (CSP, ShuffleNet). A split
    into n parts is n slices of one tensor; the validator reports a slice past the input."""

    name: ClassVar[str] = "slice"
    start: int
    stop: int

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return (self.stop - self.start, *inputs[0][1:])


@dataclass(frozen=True)
class Shuffle(OpBase):
    """Channel shuffle over `groups` (ShuffleNet): a permutation of the channels, so shape,
    parameters and MACs are the input's, none and none."""

    name: ClassVar[str] = "shuffle"
    groups: int


@dataclass(frozen=True)
class DropPath(OpBase):
    """Stochastic depth on a residual branch (training only)."""

    name: ClassVar[str] = "drop_path"
    rate: float


@dataclass(frozen=True)
class Dropout(OpBase):
    """Dropout (training only): before the classifier, and between an MLP classifier's
    layers (VGG)."""

    name: ClassVar[str] = "dropout"
    rate: float


@dataclass(frozen=True)
class Flatten(OpBase):
    """(C, H, W) -> (C * H * W,)."""

    name: ClassVar[str] = "flatten"

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return (prod(inputs[0]),)


@dataclass(frozen=True)
class Linear(OpBase):
    """A fully connected layer."""

    name: ClassVar[str] = "linear"
    in_features: int
    out_features: int
    bias: bool

    def infer(self, inputs: Sequence[Shape]) -> Shape:
        return (self.out_features,)

    def params(self, inputs: Sequence[Shape], out: Shape) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)

    def macs(self, inputs: Sequence[Shape], out: Shape) -> int:
        return self.in_features * self.out_features


Op = (
    Input | Conv | MixConv | Norm | Act | GlobalPool | MaxPool | AvgPool | AdaptiveAvgPool
    | GRN | Mul | LayerScale | Add | Concat | Slice | Shuffle | DropPath | Dropout | Flatten
    | Linear
)  # fmt: skip
OPS: tuple[type[OpBase], ...] = (
    Input, Conv, MixConv, Norm, Act, GlobalPool, MaxPool, AvgPool, AdaptiveAvgPool, GRN, Mul,
    LayerScale, Add, Concat, Slice, Shuffle, DropPath, Dropout, Flatten, Linear,
)  # fmt: skip
# ops that need a (C, H, W) input
SPATIAL = (Conv, MixConv, MaxPool, AvgPool, AdaptiveAvgPool, GRN)


def infer_shape(op: OpBase, inputs: Sequence[Shape]) -> Shape:
    """Output shape of `op`; tolerant of malformed inputs so validation can report them."""
    if len(inputs) != op.arity or any(len(s) == 0 for s in inputs):
        return inputs[0] if inputs else ()
    if isinstance(op, SPATIAL) and len(inputs[0]) != 3:
        return inputs[0]
    return op.infer(inputs)
