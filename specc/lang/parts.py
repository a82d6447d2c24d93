"""The spec side of the parts block kinds share: squeeze-excitation and expansion fields.

A part's fields mean the same in every kind that has them (STYLE: growing the language
through parts, not per-kind flags). The widths they imply are computed by the part's
behaviour in `specc.blocks.parts`; this module is pydantic only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from specc.lang.types import Activation, Channels, StrictModel

Gate = Literal["sigmoid", "hard_sigmoid"]
SERounding = Literal["floor", "round", "round_half_even", "divisor"]


class SqueezeExcite(StrictModel):
    """Squeeze-excitation settings; `se: 0.25` is short for `se: {ratio: 0.25}`.

    The squeeze width is `ratio` x the block input (`base: block_in`) or x the expanded width
    (`base: expanded`), rounded by `rounding` (floor, round half up, or the channel divisor
    rule: make_divisible). Unset fields fall back to `scaling.se`, the inner activation to the
    block's activation, the gate to sigmoid. References: EfficientNet (block_in, floor,
    sigmoid), MobileNetV3 (expanded, divisor, ReLU inside, hard sigmoid), RegNet-Y (block_in,
    round), timm's EfficientNets (block_in, round).
    """

    ratio: Annotated[float, Field(gt=0.0, le=1.0, description="squeeze width / base width")]
    base: Literal["block_in", "expanded"] | None = Field(
        None, description="the width the ratio multiplies; scaling.se.base if null"
    )
    rounding: SERounding | None = Field(
        None, description="how the squeeze width rounds; scaling.se.rounding if null"
    )
    activation: Activation | None = Field(None, description="inside the SE; the block's if null")
    gate: Gate = Field("sigmoid", description="the gating function")


def _se_shorthand(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"ratio": value}
    return value


SEField = Annotated[
    SqueezeExcite | None,
    BeforeValidator(_se_shorthand),
    Field(
        description="squeeze-excitation: a ratio (se: 0.25) or {ratio, base, rounding, "
        "activation, gate}; null for none"
    ),
]

Splits = Annotated[int, Field(ge=1, le=8, description="dense 1x1 convs over channel groups")]

# A ResNet shortcut: a strided 1x1 projection when the shape changes (auto), or forced;
# avg_down: as auto, but a strided projection pools first (ResNet-D: a 2x2 average pool,
# ceil mode, padding not counted, carries the stride; the 1x1 conv has stride 1).
Shortcut = Literal["auto", "identity", "projection", "avg_down"]


class Expansion(StrictModel):
    """Fields of blocks that widen the features inside (mbconv, fused_mbconv)."""

    expand: float = Field(1.0, ge=1.0, le=64.0, description="expansion ratio")
    expanded: Channels | None = Field(
        None, description="stated expanded width (scaled by the channel rule); replaces expand"
    )
    expand_in: Channels | None = Field(
        None, description="the width `expand` multiplies instead of the block input (timm fc)"
    )

    @model_validator(mode="after")
    def _one_width_rule(self) -> Expansion:
        if self.expanded is not None and "expand" in self.model_fields_set:
            raise ValueError("give either `expand` (a ratio) or `expanded` (a width), not both")
        return self
