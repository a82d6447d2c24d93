"""The rounding rules that turn scaled real numbers back into a buildable network.

Implementations of EfficientNet disagree exactly here (see the spec's `scaling` section);
each function below takes the rule as data, so a spec chooses it. The arithmetic is plain
float arithmetic in the order the TensorFlow reference uses, because the published
parameter counts depend on it (e.g. ceil(4 * 1.2**6) is computed, not simplified).

Pure functions, no spec objects beyond the numbers they need.
"""

from __future__ import annotations

import math


def round_channels(
    channels: float, multiplier: float, divisor: int, round_limit: float, minimum: int | None
) -> int:
    """Scale `channels` and round to the nearest multiple of `divisor`.

    The result is at least `minimum` (the divisor when not given). Rounding to the nearest
    multiple may lose up to half a divisor; when that would leave less than `round_limit`
    of the scaled width (0.9 in the reference), one divisor is added back so that narrow
    layers are never cut by more than 10%.
    """
    scaled = channels * multiplier
    floor = divisor if minimum is None else minimum
    rounded = max(floor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < round_limit * scaled:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, multiplier: float, mode: str) -> int:
    """Scale a stage's block count: `ceil` (the reference) or `round` (half up, at least 1)."""
    scaled = repeats * multiplier
    if mode == "ceil":
        return math.ceil(scaled)
    return max(1, math.floor(scaled + 0.5))


def round_resolution(resolution: float, multiple: int, mode: str) -> int:
    """Round an input resolution to a multiple of `multiple` (nearest, up or down)."""
    steps = resolution / multiple
    if mode == "ceil":
        rounded = math.ceil(steps)
    elif mode == "floor":
        rounded = math.floor(steps)
    else:
        rounded = math.floor(steps + 0.5)
    return int(rounded) * multiple


def round_squeeze(channels: float, mode: str, divisor: int) -> int:
    """Width of a squeeze-excitation bottleneck: floor (TF, torchvision), round (timm),
    or the channel divisor rule."""
    if mode == "floor":
        value = int(channels)
    elif mode == "round":
        value = math.floor(channels + 0.5)
    else:
        value = round_channels(channels, 1.0, divisor, 0.9, None)
    return max(1, value)
