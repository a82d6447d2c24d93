"""The arithmetic of scaling: binary floating point, or exact on the numbers as written.

Every width, depth and resolution that specc derives is "scale a number, then round it".
`scaling.arithmetic` chooses how the scaling is computed:

- `float` (the default): IEEE doubles in the order the references compute (TensorFlow,
  timm and torchvision all do), so `make_divisible(180 * 1.4)` is 248, `ceil(25 * 2.2)`
  is 56 and an expansion 200 * 2.3 is 459: parity with the references comes first.
- `decimal`: exact rational arithmetic on the numbers as the spec writes them, so the same
  three give 256, 55 and 460. A float operand stands for the decimal its `repr` shows, the
  shortest text that reads back to it: what a YAML file wrote, for up to 15 significant
  digits. Quotients (a bottleneck's `channels / expansion`) stay exact fractions.

The rounding itself (floor, ceil, half up, half even) is the same in both modes; only the
value it is applied to differs. `settle` evaluates a rounded value and, under `float`, also
the exact one: when they differ (the float product landed within a hair of a rounding
boundary, on the wrong side of it) it records a `Divergence` for whoever is `watching`, so
that `show` and `build` can warn, naming the spec field.

Pure functions over int, float and Fraction; nothing here knows about specs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeVar

T = TypeVar("T")

Mode = Literal["float", "decimal"]
Scalar = int | float | Fraction

HALF = Fraction(1, 2)


@dataclass(frozen=True)
class Factor:
    """A multiplier known both as the float the references compute and exactly.

    `power(1.1, 6)` is 1.7715610000000008 as a float and 1.771561 exactly."""

    value: float
    exact: Fraction | int


Number = Scalar | Factor


def power(base: float, exponent: float) -> Factor:
    """base ** exponent as a Factor: exact for an integral exponent (|e| <= 64), else the
    float's own decimal. An overflowing float is inf (the caller refuses it)."""
    try:
        value = float(base**exponent)
    except OverflowError:
        return Factor(math.inf, 0)
    if float(exponent).is_integer() and abs(exponent) <= 64:
        return Factor(value, exact(base) ** int(exponent))
    return Factor(value, exact(value) if math.isfinite(value) else 0)


def exact(value: Number) -> Fraction | int:
    """`value` as an exact number: a float as the decimal its repr shows (2.3 -> 23/10)."""
    if isinstance(value, Factor):
        return value.exact
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot take {value} exactly")
        return Fraction(repr(value))
    return value


def lift(value: Number, mode: Mode) -> Scalar:
    """`value` in the arithmetic of `mode`: exact under decimal; a float (or an int, which
    Python multiplies by floats exactly as the references do) under float."""
    if mode == "decimal":
        return exact(value)
    if isinstance(value, Factor):
        return value.value
    return float(value) if isinstance(value, Fraction) else value


def text(value: Number) -> str:
    """A number for messages: 200, 2.3, 1.77156."""
    if isinstance(value, Factor):
        value = value.value
    if isinstance(value, Fraction) and value.denominator == 1:
        value = value.numerator
    return str(value) if isinstance(value, int) else f"{float(value):.6g}"


def scaled(base: Number, multiplier: Number, mode: Mode) -> Scalar:
    """base x multiplier in `mode`: a float, or an exact Fraction (int when both are)."""
    return lift(base, mode) * lift(multiplier, mode)


def ratio(numerator: int, denominator: int, mode: Mode) -> Scalar:
    """numerator / denominator: a float (correctly rounded), or the exact fraction."""
    if mode == "decimal":
        return Fraction(numerator, denominator)
    return numerator / denominator


def floor(value: Scalar) -> int:
    return math.floor(value)


def ceil(value: Scalar) -> int:
    return math.ceil(value)


def round_half_up(value: Scalar) -> int:
    """Nearest integer, halves away from -inf (2.5 -> 3): `floor(x + 0.5)`."""
    return math.floor(value + (HALF if isinstance(value, Fraction) else 0.5))


def round_half_even(value: Scalar) -> int:
    """Nearest integer, halves to the even one (2.5 -> 2, 3.5 -> 4): Python's `round`."""
    return round(value)


@dataclass(frozen=True)
class Divergence:
    """A rounded value on which float and exact arithmetic disagree.

    `field` is the spec field whose number was scaled, relative to whatever the caller is
    resolving (a stage's `expand`, the `channels` of a stage); `what` says which value."""

    field: str
    what: str
    float_result: object  # an int, or a tuple of ints (a depth group's repeats)
    exact_result: object


_WATCHERS: ContextVar[list[Divergence] | None] = ContextVar("specc_arith", default=None)


@contextmanager
def watching() -> Iterator[list[Divergence]]:
    """Collect the divergences that `settle` finds inside the block."""
    found: list[Divergence] = []
    token = _WATCHERS.set(found)
    try:
        yield found
    finally:
        _WATCHERS.reset(token)


def settle(compute: Callable[[Mode], T], mode: Mode, field: str, what: str) -> T:
    """`compute(mode)`; under float, record a divergence if `compute("decimal")` differs.

    `compute` is one rounded quantity as a function of the arithmetic, e.g.
    `lambda m: floor(scaled(200, 2.3, m))`; the check costs nothing unless watched."""
    result = compute(mode)
    found = _WATCHERS.get()
    if mode == "float" and found is not None:
        other = compute("decimal")
        if other != result:
            found.append(Divergence(field, what, result, other))
    return result
