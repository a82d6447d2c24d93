"""Parts: the pieces block kinds are made of, each defined once.

A block kind composes parts instead of growing its own flags. A part's spec fields mean the
same in every kind that uses it:

- conv (`kernel`: one odd size, or a list of sizes for a mixed depthwise conv that splits the
  channels over them; `groups`; `bias`), lowered by `specc.blocks.conv.conv_norm_act`;
- norm (batch norm or channels-last layer norm, chosen spec-wide in `defaults.norm`);
- activation (`activation` per stage, `defaults.activation` otherwise);
- squeeze-excitation (`se`: a ratio, or the `SqueezeExcite` settings below);
- residual (`skip`, drop path: `specc.blocks.residual`).

This module holds the spec side of the parts (schemas and width rules) and the SE lowering;
it imports no IR at run time and never torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from specc.blocks.base import Code
from specc.scaling import rounding
from specc.spec.types import Activation, StrictModel

if TYPE_CHECKING:
    from specc.blocks.base import Argument, ResolvedBlock
    from specc.ir.graph import GraphBuilder, Scope
    from specc.spec.schema import Scaling

Gate = Literal["sigmoid", "hard_sigmoid"]

# The generated code of each activation and gate name (fixed tables: names are validated
# by the schema, so only these strings ever reach model.py).
ACTIVATIONS = {
    "relu": "nn.ReLU",
    "relu6": "nn.ReLU6",
    "silu": "nn.SiLU",
    "hardswish": "nn.Hardswish",
    "gelu": "nn.GELU",
    "sigmoid": "nn.Sigmoid",
    "hard_sigmoid": "nn.Hardsigmoid",
}
GATES = {"sigmoid": "nn.Sigmoid", "hard_sigmoid": "nn.Hardsigmoid"}


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
    base: Literal["block_in", "expanded"] | None = None
    rounding: Literal["floor", "round", "round_half_even", "divisor"] | None = None
    activation: Activation | None = Field(None, description="inside the SE; the block's if null")
    gate: Gate = "sigmoid"


def _se_shorthand(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"ratio": value}
    return value


SEField = Annotated[SqueezeExcite | None, BeforeValidator(_se_shorthand)]


def squeeze_width(se: SqueezeExcite | None, block_in: int, expanded: int, rules: Scaling) -> int:
    """Width of the SE bottleneck of one block (0: no SE)."""
    if se is None:
        return 0
    base = se.base or rules.se.base
    width = block_in if base == "block_in" else expanded
    return rounding.squeeze_width(width, se.ratio, se.rounding or rules.se.rounding, rules)


def se_options(se: SqueezeExcite | None) -> dict[str, Any]:
    """What lowering and the backend need of an SE beyond its width (`se_act` None: the
    block's activation)."""
    if se is None:
        return {}
    return {"se_act": se.activation, "se_gate": se.gate}


def se_arguments(block: ResolvedBlock) -> list[Argument]:
    """`se_act=` and `se_gate=` where the SE differs from the block activation / sigmoid."""
    extra = block.extra
    if not extra.get("squeeze"):
        return []
    args: list[Argument] = []
    if extra["se_act"] not in (None, block.activation):
        args.append(("se_act", Code(ACTIVATIONS[extra["se_act"]])))
    if extra["se_gate"] != "sigmoid":
        args.append(("se_gate", Code(GATES[extra["se_gate"]])))
    return args


def describe_se(se: SqueezeExcite | None) -> str:
    return f" se{se.ratio:g}" if se is not None else ""


def lower_squeeze_excite(
    builder: GraphBuilder, prefix: str, x: str, block: ResolvedBlock, scope: Scope
) -> str:
    """Global pool, 1x1 reduce (bias), act, 1x1 expand (bias), gate, scale `x`."""
    channels, squeeze = builder.shape(x)[0], block.extra["squeeze"]

    def conv_1x1(name: str, source: str, cin: int, cout: int) -> str:
        return builder.add(
            name, "conv", [source], scope, in_channels=cin, out_channels=cout, kernel=1, stride=1,
            groups=1, padding=(0, 0, 0, 0), bias=True,
        )  # fmt: skip

    pooled = builder.add(f"{prefix}.pool", "pool", [x], scope, kind="avg")
    reduced = conv_1x1(f"{prefix}.reduce", pooled, channels, squeeze)
    activated = builder.add(
        f"{prefix}.act", "act", [reduced], scope, fn=block.extra["se_act"] or block.activation
    )
    expanded = conv_1x1(f"{prefix}.expand", activated, squeeze, channels)
    gate = builder.add(f"{prefix}.gate", "act", [expanded], scope, fn=block.extra["se_gate"])
    return builder.add(f"{prefix}.scale", "mul", [x, gate], scope)


def split_channels(channels: int, parts: int) -> tuple[int, ...]:
    """Channels split over `parts` groups as MixConv does: equal shares, the remainder to the
    first (MixNet's reference, and timm's `_split_channels`)."""
    share = channels // parts
    return (channels - share * (parts - 1), *([share] * (parts - 1)))


def round_to_group_width(width: int, group_width: int) -> int:
    """RegNet's rule: a bottleneck width is a multiple of its group width (the group width
    shrinks to the width when wider)."""
    group = min(group_width, width)
    return int(round(width / group) * group)
