"""The squeeze-excitation part: its width (by the spec's rules), its nodes, its arguments.

The fields are `specc.lang.parts.SqueezeExcite`; a kind that has an SE plans it with
`plan_se` and keeps the `SEPlan` (None: no SE) in its own plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from specc.blocks.kind import Argument, Code
from specc.blocks.parts.arguments import ACTIVATIONS, GATES
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import Act, Conv, GlobalPool, Mul
from specc.lang.parts import SqueezeExcite
from specc.scaling import rounding

if TYPE_CHECKING:
    from specc.lang.schema import Scaling


@dataclass(frozen=True)
class SEPlan:
    """One block's SE: the bottleneck width, the inner activation (None: the block's) and
    the gate."""

    squeeze: int
    activation: str | None
    gate: str


def plan_se(
    se: SqueezeExcite | None, block_in: int, expanded: int, rules: Scaling
) -> SEPlan | None:
    """The SE of one block reading `block_in` channels and widening to `expanded` (None: no
    SE): the squeeze width is the ratio of the base width (`base`), rounded by `rounding`;
    both fall back to `scaling.se`."""
    if se is None:
        return None
    base = se.base or rules.se.base
    width = block_in if base == "block_in" else expanded
    squeeze = rounding.squeeze_width(width, se.ratio, se.rounding or rules.se.rounding, rules)
    return SEPlan(squeeze, se.activation, se.gate)


def describe_se(se: SqueezeExcite | None) -> str:
    """' se0.25' in a stage's label; '' without an SE."""
    return f" se{se.ratio:g}" if se is not None else ""


def lower_squeeze_excite(
    builder: GraphBuilder, prefix: str, x: str, se: SEPlan, activation: str, scope: Scope
) -> str:
    """Global pool, 1x1 reduce (bias), act, 1x1 expand (bias), gate, scale `x`;
    `activation` is the block's (the SE's own unless it names one)."""
    channels = builder.shape(x)[0]

    def conv_1x1(name: str, source: str, cin: int, cout: int) -> str:
        conv = Conv(cin, cout, kernel=1, stride=1, groups=1, padding=(0, 0, 0, 0), bias=True)
        return builder.add(name, conv, [source], scope)

    pooled = builder.add(f"{prefix}.pool", GlobalPool("avg"), [x], scope)
    reduced = conv_1x1(f"{prefix}.reduce", pooled, channels, se.squeeze)
    activated = builder.add(f"{prefix}.act", Act(se.activation or activation), [reduced], scope)
    expanded = conv_1x1(f"{prefix}.expand", activated, se.squeeze, channels)
    gate = builder.add(f"{prefix}.gate", Act(se.gate), [expanded], scope)
    return builder.add(f"{prefix}.scale", Mul(), [x, gate], scope)


def se_arguments(se: SEPlan | None, activation: str) -> list[Argument]:
    """`se_act=` and `se_gate=` where the SE differs from the block activation / sigmoid."""
    if se is None:
        return []
    args: list[Argument] = []
    if se.activation not in (None, activation):
        args.append(("se_act", Code(ACTIVATIONS[se.activation])))
    if se.gate != "sigmoid":
        args.append(("se_gate", Code(GATES[se.gate])))
    return args
