"""The expansion part: the expanded width of an inverted-residual block (mbconv,
fused_mbconv), from `specc.lang.parts.Expansion`'s fields.

The width is `expand` x the block input (or x `expand_in`, timm's `fc`), exact (TF) or
rounded like channels (timm, torchvision) per `scaling.expansion`; or a stated width
(`expanded`, as torchvision's MobileNetV3 tables give it) scaled by the channel rule.
"""

from __future__ import annotations

from specc.blocks.kind import PlanContext
from specc.lang.parts import Expansion
from specc.scaling import rounding


def expanded_width(stage: Expansion, in_channels: int, ctx: PlanContext) -> int:
    """The expanded width of one block of `stage` reading `in_channels`."""
    if stage.expanded is not None:
        return ctx.round_width(stage.expanded)
    base = in_channels if stage.expand_in is None else ctx.round_width(stage.expand_in)
    return rounding.expanded_width(base, stage.expand, ctx.rules)


def expansion_ratio(stage: Expansion, expanded: int, in_channels: int) -> float:
    """The ratio a stage table shows: `expand`, or for a stated expanded width the first
    block's actual ratio, to 2 decimals (MobileNetV3's 64 / 16 = 4)."""
    if stage.expanded is None:
        return stage.expand
    return round(expanded / in_channels, 2)
