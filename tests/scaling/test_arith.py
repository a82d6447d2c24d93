"""Numeric semantics: float (the references' arithmetic) against exact decimals, and
the repeats rules checked against timm's own functions."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specc.scaling.arith import exact, power, scaled, settle, watching
from specc.scaling.rounding import distribute_repeats, round_channels, round_repeats


def test_make_divisible_180_by_1_4_is_248_in_float_and_256_exactly():
    # timm/torchvision: make_divisible(180 * 1.4) with 180 * 1.4 = 251.99999999999997.
    assert round_channels(180, 1.4, 8, 0.9, None) == 248
    assert round_channels(180, 1.4, 8, 0.9, None, "decimal") == 256


def test_make_divisible_agrees_with_timm():
    helpers = pytest.importorskip("timm.layers.helpers")
    for channels in (16, 24, 40, 80, 112, 180, 192, 320, 1280):
        for width in (0.35, 0.5, 0.75, 1.0, 1.1, 1.4, 1.8, 1.1**6):
            expected = helpers.make_divisible(channels * width, 8)
            assert round_channels(channels, width, 8, 0.9, None) == expected


def test_ceil_25_by_2_2_is_56_in_float_and_55_exactly():
    assert round_repeats(25, 2.2, "ceil") == 56
    assert round_repeats(25, 2.2, "ceil", "decimal") == 55


@pytest.mark.parametrize(
    ("repeats", "depth", "half_even", "half_up"),
    [
        (5, 0.5, 2, 3),  # 2.5: to even 2, up 3
        (7, 0.5, 4, 4),  # 3.5: to even 4
        (1, 0.5, 1, 1),  # 0.5 -> 0, but at least one block
        (1, 0.2, 1, 1),
        (3, 1.5, 4, 5),  # 4.5
    ],
)
def test_round_half_even_is_pythons_round_at_least_one(repeats, depth, half_even, half_up):
    assert round_repeats(repeats, depth, "round_half_even") == half_even
    assert round_repeats(repeats, depth, "round") == half_up
    assert half_even == max(1, round(repeats * depth))  # timm's depth_trunc='round'


def _timm_split(repeats, multiplier, trunc):
    builder = pytest.importorskip("timm.models._efficientnet_builder")
    labels = [f"config{i}" for i in range(len(repeats))]
    scaled = builder._scale_stage_depth(labels, repeats, multiplier, trunc)
    return [scaled.count(label) for label in labels]


GROUPS = [[1], [3], [1, 2], [2, 3, 1], [1, 1, 1, 1], [4, 1], [1, 3, 2, 2], [2, 2, 2], [1, 5]]
DEPTHS = [0.5, 0.6, 0.8, 1.0, 1.1, 1.2, 1.4, 1.8, 2.2, 2.6, 3.1, 1.2**2, 1.2**6, 1.2**-1]


@pytest.mark.parametrize("repeats", GROUPS, ids=str)
@pytest.mark.parametrize(("rule", "trunc"), [("ceil", "ceil"), ("round_half_even", "round")])
def test_depth_groups_split_exactly_as_timm_scale_stage_depth(repeats, rule, trunc):
    for depth in DEPTHS:
        expected = _timm_split(repeats, depth, trunc)
        assert distribute_repeats(repeats, depth, rule) == expected, depth


def test_one_configuration_gets_its_own_rounded_repeats():
    for depth in DEPTHS:
        for count in range(1, 12):
            for rule in ("ceil", "round", "round_half_even"):
                expected = [round_repeats(count, depth, rule)]
                assert distribute_repeats([count], depth, rule) == expected


def test_decimal_split_is_exact():
    # A total of 25 x 2.2 = 55.00000000000001 in float: ceil 56 (timm too), 55 exactly.
    assert (
        distribute_repeats([10, 15], 2.2, "ceil") == [22, 34] == _timm_split([10, 15], 2.2, "ceil")
    )
    assert distribute_repeats([10, 15], 2.2, "ceil", "decimal") == [22, 33]


def test_exact_reads_a_float_as_the_decimal_it_prints():
    assert exact(2.3) == Fraction(23, 10)
    assert exact(1e-3) == Fraction(1, 1000)
    assert scaled(200, 2.3, "float") == 459.99999999999994
    assert scaled(200, 2.3, "decimal") == 460


def test_integral_powers_are_exact_under_decimal():
    width = power(1.1, 6)
    assert width.value == 1.1**6 == 1.7715610000000008
    assert width.exact == Fraction("1.771561")
    assert power(1.15, 0.5).exact == exact(1.15**0.5)  # not integral: the float's decimal
    assert math.isinf(power(16.0, 1000.0).value)


def test_settle_records_divergences_only_when_watched_under_float():
    def expanded(mode):
        return math.floor(scaled(200, 2.3, mode))

    assert settle(expanded, "float", "expand", "x") == 459  # nobody watching: no record
    with watching() as found:
        assert settle(expanded, "float", "expand", "200 x 2.3") == 459
        assert settle(expanded, "decimal", "expand", "200 x 2.3") == 460
        assert settle(lambda m: math.floor(scaled(200, 2.5, m)), "float", "expand", "") == 500
    assert [(d.field, d.float_result, d.exact_result) for d in found] == [("expand", 459, 460)]


@given(
    repeats=st.lists(st.integers(1, 8), min_size=1, max_size=5),
    depth=st.floats(0.05, 6.0, allow_nan=False),
    rule=st.sampled_from([("ceil", "ceil"), ("round_half_even", "round")]),
)
@settings(max_examples=300, deadline=None)
def test_depth_group_split_matches_timm_for_any_group_and_multiplier(repeats, depth, rule):
    assert distribute_repeats(repeats, depth, rule[0]) == _timm_split(repeats, depth, rule[1])
