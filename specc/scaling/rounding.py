"""The rounding rules that turn scaled real numbers back into a buildable network.

Implementations of EfficientNet disagree exactly here (see the spec's `scaling` section);
each function below takes the rule as data, so a spec chooses it. Under the default
`float` arithmetic the computation is plain float arithmetic in the order the TensorFlow
reference uses, because the published parameter counts depend on it (e.g. ceil(4 * 1.2**6)
is computed, not simplified); under `decimal` the same steps run on exact numbers (see
`specc.scaling.arith`).

`expanded_width` and `squeeze_width` are what block kinds call for their inner widths:
they apply the spec's rules and report float/exact divergences for the warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from specc.scaling.arith import (
    Mode,
    Number,
    Scalar,
    ceil,
    floor,
    lift,
    ratio,
    round_half_even,
    round_half_up,
    scaled,
    settle,
)

if TYPE_CHECKING:
    from specc.lang.schema import Scaling


def round_channels(
    channels: Number,
    multiplier: Number,
    divisor: int,
    round_limit: float,
    minimum: int | None,
    arithmetic: Mode = "float",
) -> int:
    """Scale `channels` and round to the nearest multiple of `divisor`.

    The result is at least `minimum` (the divisor when not given). Rounding to the nearest
    multiple may lose up to half a divisor; when that would leave less than `round_limit`
    of the scaled width (0.9 in the reference), one divisor is added back so that narrow
    layers are never cut by more than 10%. This is timm's `make_divisible`.
    """
    value = scaled(channels, multiplier, arithmetic)
    least = divisor if minimum is None else minimum
    rounded = max(least, int(value + ratio(divisor, 2, arithmetic)) // divisor * divisor)
    if rounded < lift(round_limit, arithmetic) * value:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, multiplier: Number, mode: str, arithmetic: Mode = "float") -> int:
    """Scale a stage's block count.

    `ceil` (TF reference, timm's default `depth_trunc`), `round` (half up, at least 1) or
    `round_half_even` (at least 1: timm's `depth_trunc='round'`, which is Python's round).
    """
    value = scaled(repeats, multiplier, arithmetic)
    if mode == "ceil":
        return ceil(value)
    if mode == "round_half_even":
        return max(1, round_half_even(value))
    return max(1, round_half_up(value))


def distribute_repeats(
    repeats: Sequence[int], multiplier: Number, mode: str, arithmetic: Mode = "float"
) -> list[int]:
    """Scale the repeats of several block configurations as one total, then split it.

    As timm's `_scale_stage_depth`: the total is rounded by `mode` (see `round_repeats`),
    then shared out from the last configuration to the first, each getting
    max(1, round_half_even(r / remaining * remaining_scaled)), so the first is the least
    likely to grow. One configuration gets exactly `round_repeats` of its own.
    """
    remaining = sum(repeats)
    left = round_repeats(remaining, multiplier, mode, arithmetic)
    shares: list[int] = []
    for count in reversed(repeats):
        share = max(1, round_half_even(ratio(count, remaining, arithmetic) * left))
        shares.append(share)
        remaining -= count
        left -= share
    return shares[::-1]


def round_resolution(resolution: Scalar, multiple: int, mode: str) -> int:
    """Round an input resolution to a multiple of `multiple` (nearest, up or down)."""
    steps = resolution / multiple
    if mode == "ceil":
        rounded = ceil(steps)
    elif mode == "floor":
        rounded = floor(steps)
    else:
        rounded = round_half_up(steps)
    return int(rounded) * multiple


def round_squeeze(channels: Scalar, mode: str, divisor: int, arithmetic: Mode = "float") -> int:
    """Width of a squeeze-excitation bottleneck: floor (TF, torchvision), round (halves
    up), round_half_even (timm's SqueezeExcite: Python's round) or the channel divisor rule."""
    if mode == "floor":
        value = floor(channels)
    elif mode == "round":
        value = round_half_up(channels)
    elif mode == "round_half_even":
        value = round_half_even(channels)
    else:
        value = round_channels(channels, 1, divisor, 0.9, None, arithmetic)
    return max(1, value)


def expanded_width(in_channels: int, expand: Number, rules: Scaling, field: str = "expand") -> int:
    """A block's expanded width, in_channels x expand, by `scaling.expansion`:
    `exact` floors the product (TF), `round_channels` rounds it like channels (timm).

    Under float arithmetic a product that exact arithmetic would round otherwise is
    recorded against `field` (see `arith.settle`): 200 x 2.3 is 459 in float, 460 exact."""
    ch = rules.channels

    def compute(m: Mode) -> int:
        if rules.expansion == "round_channels":
            return round_channels(in_channels, expand, ch.divisor, ch.round_limit, ch.min, m)
        return floor(scaled(in_channels, expand, m))

    what = f"expanded width {in_channels} x {expand:g}"
    return settle(compute, rules.arithmetic, field, what)


def squeeze_width(base: int, ratio_: Number, mode: str, rules: Scaling, field: str = "se") -> int:
    """A squeeze-excitation width: `ratio_` x `base` (the block input or the expanded width),
    rounded by `mode` (see `round_squeeze`); divergences as `expanded_width`."""

    def compute(m: Mode) -> int:
        return round_squeeze(scaled(base, ratio_, m), mode, rules.channels.divisor, m)

    return settle(compute, rules.arithmetic, field, f"squeeze width {base} x {ratio_:g}")
