"""The rounding rules, on the cases where implementations are known to differ."""

from __future__ import annotations

import pytest

from specc.scaling.rounding import round_channels, round_repeats, round_resolution, round_squeeze


@pytest.mark.parametrize(
    ("channels", "width", "expected"),
    [
        (32, 1.0, 32),
        (1280, 1.7715610000000008, 2264),  # phi = 6: not 2272 (4 x 568, torchvision's head rule)
        (32, 1.7715610000000008, 56),
        (320, 2.0, 640),
        (16, 0.5, 8),  # never below the divisor
        (40, 1.1, 48),  # 44 rounds up to 48
        (80, 0.9090909090909091, 72),  # phi = -1
        (112, 1.1, 120),  # 123.2 -> 120 keeps more than 90%
    ],
)
def test_round_channels_reference_rule(channels, width, expected):
    assert round_channels(channels, width, divisor=8, round_limit=0.9, minimum=None) == expected


def test_round_limit_adds_a_divisor_back():
    # 20 rounds to 16, the nearest multiple of 16, which keeps less than 0.9 * 20: 16 + 16.
    assert round_channels(20, 1.0, divisor=16, round_limit=0.9, minimum=None) == 32
    assert round_channels(20, 1.0, divisor=16, round_limit=0.0, minimum=None) == 16


def test_round_channels_minimum():
    assert round_channels(8, 0.25, divisor=8, round_limit=0.9, minimum=16) == 16


@pytest.mark.parametrize(
    ("repeats", "depth", "mode", "expected"),
    [
        (3, 2.9859839999999997, "ceil", 9),
        (4, 2.6, "ceil", 11),
        (3, 1.1, "ceil", 4),
        (1, 0.5, "ceil", 1),
        (3, 0.5, "round", 2),  # half up, not banker's rounding
        (1, 0.2, "round", 1),  # at least one block
        (4, 1.1, "round", 4),
    ],
)
def test_round_repeats(repeats, depth, mode, expected):
    assert round_repeats(repeats, depth, mode) == expected


@pytest.mark.parametrize(
    ("value", "multiple", "mode", "expected"),
    [(518.09, 1, "nearest", 518), (518.09, 8, "nearest", 520), (518.09, 32, "floor", 512),
     (518.09, 32, "ceil", 544), (257.6, 1, "nearest", 258)],
)  # fmt: skip
def test_round_resolution(value, multiple, mode, expected):
    assert round_resolution(value, multiple, mode) == expected


def test_round_squeeze():
    assert round_squeeze(40 * 0.25, "floor", 8) == 10
    assert round_squeeze(0.5, "floor", 8) == 1  # never zero
    assert round_squeeze(58 * 0.25, "floor", 8) == 14
    assert round_squeeze(58 * 0.25, "round", 8) == 15
    assert round_squeeze(58 * 0.25, "round_half_even", 8) == 14 == round(58 * 0.25)  # timm
    assert round_squeeze(62 * 0.25, "round_half_even", 8) == 16
    assert round_squeeze(58 * 0.25, "divisor", 8) == 16
