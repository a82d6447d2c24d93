"""Resolving selectors to concrete stage tables: the reference tables, without a graph."""

from __future__ import annotations

import pytest

import specc
from specc.build.resolve import resolve
from specc.scaling.selector import Selector

# ../shared/reference/efficientnet-facts.md: stem, stage channels, repeats, head.
PRESETS = {
    "b0": (32, [16, 24, 40, 80, 112, 192, 320], [1, 2, 2, 3, 3, 4, 1], 1280),
    "b1": (32, [16, 24, 40, 80, 112, 192, 320], [2, 3, 3, 4, 4, 5, 2], 1280),
    "b2": (32, [16, 24, 48, 88, 120, 208, 352], [2, 3, 3, 4, 4, 5, 2], 1408),
    "b3": (40, [24, 32, 48, 96, 136, 232, 384], [2, 3, 3, 5, 5, 6, 2], 1536),
    "b4": (48, [24, 32, 56, 112, 160, 272, 448], [2, 4, 4, 6, 6, 8, 2], 1792),
    "b5": (48, [24, 40, 64, 128, 176, 304, 512], [3, 5, 5, 7, 7, 9, 3], 2048),
    "b6": (56, [32, 40, 72, 144, 200, 344, 576], [3, 6, 6, 8, 8, 11, 3], 2304),
    "b7": (64, [32, 48, 80, 160, 224, 384, 640], [4, 7, 7, 10, 10, 13, 4], 2560),
    "b8": (72, [32, 56, 88, 176, 248, 424, 704], [4, 8, 8, 11, 11, 15, 4], 2816),
    "l2": (136, [72, 104, 176, 344, 480, 824, 1376], [6, 11, 11, 16, 16, 22, 6], 5504),
}
PHI = {
    -1: (32, [16, 24, 40, 72, 104, 176, 288], [1, 2, 2, 3, 3, 4, 1], 1160),
    1: (32, [16, 24, 48, 88, 120, 208, 352], [2, 3, 3, 4, 4, 5, 2], 1408),
    2: (40, [24, 32, 48, 96, 136, 232, 384], [2, 3, 3, 5, 5, 6, 2], 1552),
    6: (56, [32, 40, 72, 144, 200, 344, 568], [3, 6, 6, 9, 9, 12, 3], 2264),
    7: (64, [32, 48, 80, 152, 216, 376, 624], [4, 8, 8, 11, 11, 15, 4], 2496),
}


def table(resolved):
    assert resolved.head is not None
    return (
        resolved.stem.out_channels,
        [s.out_channels for s in resolved.stages],
        [s.repeats for s in resolved.stages],
        resolved.head.out_channels,
    )


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_resolve_to_the_reference_table(b0, name):
    resolved = resolve(b0, Selector(preset=name))
    assert table(resolved) == PRESETS[name]
    assert resolved.resolution == b0.spec.presets[name].resolution


@pytest.mark.parametrize("phi", sorted(PHI))
def test_phi_resolves_to_the_reference_table(b0, phi):
    assert table(resolve(b0, Selector(phi=phi))) == PHI[phi]


def test_phi6_multipliers_and_resolution(b0):
    resolved = resolve(b0, Selector(phi=6))
    assert resolved.multipliers.depth == pytest.approx(2.986, abs=1e-3)
    assert resolved.multipliers.width == pytest.approx(1.772, abs=1e-3)
    assert resolved.resolution == 518  # round(224 * 1.15**6) = round(518.1)
    assert resolved.dropout == 0.5  # 0.2 + 0.05 * 6


def test_phi_and_preset_are_distinct_modes(b0):
    phi6, b6 = resolve(b0, Selector(phi=6)), resolve(b0, Selector(preset="b6"))
    assert table(phi6) != table(b6)
    assert (phi6.selector.label, b6.selector.label) == ("phi6", "b6")


def test_drop_path_grows_linearly_over_all_blocks(b0):
    blocks = resolve(b0, Selector()).blocks
    assert len(blocks) == 16
    assert [b.drop_path for b in blocks[:3]] == [0.0, 0.0125, 0.025]
    assert blocks[-1].drop_path == pytest.approx(0.2 * 15 / 16, abs=1e-4)


def test_expansion_and_squeeze_widths_follow_the_rules(b0):
    block = resolve(b0, Selector()).stages[1].blocks[0]  # 16 -> 24, expand 6
    assert (block.expanded, block.se.squeeze) == (96, 4)
    expanded_se = specc.load(b0.file, ["scaling.se.base=expanded"])
    block = resolve(expanded_se, Selector()).stages[1].blocks[0]
    assert block.se.squeeze == 24


def test_head_rule_multiple_of_last(b0):
    loaded = specc.load(b0.file, ["scaling.head.rule=multiple_of_last"])
    resolved = resolve(loaded, Selector(phi=6))
    assert resolved.head is not None and resolved.head.out_channels == 4 * 568


@pytest.mark.parametrize(
    ("selector", "label"),
    [
        (Selector(), "phi0"),
        (Selector(phi=6), "phi6"),
        (Selector(phi=0.5), "phi0p5"),
        (Selector(phi=-1), "phim1"),
        (Selector(phi=-0.25), "phim0p25"),
        (Selector(phi=1e-5), "phi1em05"),
        (Selector(preset="b6"), "b6"),
    ],
)
def test_selector_labels_are_filesystem_safe_and_unambiguous(selector, label):
    assert selector.label == label


def test_selector_refuses_nan_and_both_modes():
    with pytest.raises(ValueError):
        Selector(phi=float("nan"))
    with pytest.raises(ValueError):
        Selector(phi=1, preset="b1")


def test_absurd_phi_is_refused_unless_allowed(b0):
    with pytest.raises(specc.SpecError, match=r"absurdly large.*blocks") as excinfo:
        resolve(b0, Selector(phi=40))
    assert excinfo.value.diagnostics[0].hint == "pass --allow-large to build it anyway"
    with pytest.raises(specc.SpecError, match="out of range"):
        resolve(b0, Selector(phi=1e6), limits=None)  # overflows even when allowed


def test_unknown_preset(b0):
    with pytest.raises(specc.SpecError, match=r"b0.yaml:\d+:1: presets: unknown preset 'b9'"):
        resolve(b0, Selector(preset="b9"))
