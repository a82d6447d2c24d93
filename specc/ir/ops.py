"""The layer-level operations of the IR: their output shapes, parameters and MACs.

Shapes exclude the batch dimension: (C, H, W) for feature maps, (C,) after flattening.
Each op is a small record of three pure functions, so shape inference (lowering), the
validator and the analyser all use the same arithmetic.

What is counted:
- parameters: trainable ones only (conv and linear weights and biases, norm affine
  weight and bias); norm running statistics are buffers and not counted, as torchvision
  and timm count them;
- MACs: multiply-accumulates of convolutions (the SE convs included) and linear layers.
  Norms, activations, pooling, the SE gating multiply and residual adds are not counted;
  this is the convention of the EfficientNet paper, whose "FLOPs" are these MACs.

No torch, no networkx, no knowledge of the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

Shape = tuple[int, ...]
Attrs = Mapping[str, Any]


def conv_output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Spatial output size of a convolution (can be < 1 for a collapsing input)."""
    return (size + pad_before + pad_after - kernel) // stride + 1


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'same' padding for one axis: output ceil(size / stride), extra pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_padding(size: int, kernel: int, stride: int, mode: str) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding of a square input (torch's ZeroPad2d order)."""
    if mode == "same":
        before, after = same_padding(size, kernel, stride)
    else:
        before = after = kernel // 2
    return before, after, before, after


@dataclass(frozen=True)
class Op:
    """How one kind of node computes its output shape, parameters and MACs."""

    name: str
    infer: Callable[[Attrs, Sequence[Shape]], Shape]
    params: Callable[[Attrs, Sequence[Shape], Shape], int]
    macs: Callable[[Attrs, Sequence[Shape], Shape], int]
    arity: int = 1  # number of inputs; 0 for the graph input


def _none(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    return 0


def _same(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    return inputs[0]


def _concat(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    """Channel concatenation of two maps of the same size (GhostNet's ghost module); the
    validator reports maps of different sizes."""
    first, second = inputs
    return (first[0] + second[0], *first[1:])


def _input(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    return tuple(attrs["shape"])


def _conv(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    _, height, width = inputs[0]
    left, right, top, bottom = attrs["padding"]
    kernel, stride = attrs["kernel"], attrs["stride"]
    return (
        attrs["out_channels"],
        conv_output_size(height, kernel, stride, top, bottom),
        conv_output_size(width, kernel, stride, left, right),
    )


def _mixed_conv(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    """A conv split over channel groups with their own kernels (MixConv); every split keeps
    the same output size, so the output is the first split's size at the full width."""
    _, height, width = inputs[0]
    kernel, stride = attrs["kernels"][0], attrs["stride"]
    left, right, top, bottom = attrs["paddings"][0]
    return (
        attrs["out_channels"],
        conv_output_size(height, kernel, stride, top, bottom),
        conv_output_size(width, kernel, stride, left, right),
    )


def _max_pool(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    channels, height, width = inputs[0]
    kernel, stride, pad = attrs["kernel"], attrs["stride"], attrs["padding"]
    return (
        channels,
        conv_output_size(height, kernel, stride, pad, pad),
        conv_output_size(width, kernel, stride, pad, pad),
    )


def _conv_params(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    weights = attrs["in_channels"] // attrs["groups"] * attrs["kernel"] ** 2 * attrs["out_channels"]
    return int(weights + (attrs["out_channels"] if attrs["bias"] else 0))


def _conv_macs(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    per_pixel = (
        attrs["in_channels"] // attrs["groups"] * attrs["kernel"] ** 2 * attrs["out_channels"]
    )
    return int(per_pixel * max(out[1], 0) * max(out[2], 0))


def _mixed_conv_params(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    return sum(cin // groups * kernel**2 * cout for cin, cout, kernel, groups in _splits(attrs)) + (
        attrs["out_channels"] if attrs["bias"] else 0
    )


def _mixed_conv_macs(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    pixels = max(out[1], 0) * max(out[2], 0)
    return (
        sum(cin // groups * kernel**2 * cout for cin, cout, kernel, groups in _splits(attrs))
        * pixels
    )


def _splits(attrs: Attrs) -> list[tuple[int, int, int, int]]:
    """(in, out, kernel, groups) of each split of a mixed conv."""
    depthwise = attrs["depthwise"]
    return [
        (cin, cout, kernel, cin if depthwise else 1)
        for cin, cout, kernel in zip(
            attrs["in_splits"], attrs["out_splits"], attrs["kernels"], strict=True
        )
    ]


def _channel_params(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    return inputs[0][0]


def _norm_params(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    return 2 * inputs[0][0]


def _global_pool(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    return (inputs[0][0], 1, 1)


def _flatten(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    return (prod(inputs[0]),)


def _linear(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    return (attrs["out_features"],)


def _linear_params(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    bias = attrs["out_features"] if attrs["bias"] else 0
    return int(attrs["in_features"] * attrs["out_features"] + bias)


def _linear_macs(attrs: Attrs, inputs: Sequence[Shape], out: Shape) -> int:
    return int(attrs["in_features"] * attrs["out_features"])


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op("input", _input, _none, _none, arity=0),
        Op("conv", _conv, _conv_params, _conv_macs),
        Op("mixconv", _mixed_conv, _mixed_conv_params, _mixed_conv_macs),
        Op("norm", _same, _norm_params, _none),
        Op("act", _same, _none, _none),
        Op("pool", _global_pool, _none, _none),
        Op("maxpool", _max_pool, _none, _none),
        # Elementwise product with broadcasting: the SE gate scales the feature map.
        Op("mul", _same, _none, _none, arity=2),
        # A learned per-channel scale (ConvNeXt's layer scale): C parameters.
        Op("layer_scale", _same, _channel_params, _none),
        Op("add", _same, _none, _none, arity=2),
        # Channel concatenation (GhostNet's ghost module): no parameters, no MACs.
        Op("concat", _concat, _none, _none, arity=2),
        Op("drop_path", _same, _none, _none),
        Op("dropout", _same, _none, _none),
        Op("flatten", _flatten, _none, _none),
        Op("linear", _linear, _linear_params, _linear_macs),
    )
}
