"""specc.tools.sweep: points of the phi curve and the presets, the CSV and the plot."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

import specc
from specc import api
from specc.diagnostics import SpecError
from specc.tools.sweep import equivalent_phi, phi_range, plot, write_csv

ROOT = Path(__file__).resolve().parents[2]
B0 = ROOT / "specs" / "b0.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0:8", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]),
        ("0:1:0.25", [0.0, 0.25, 0.5, 0.75, 1.0]),
        ("0:1:0.1", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
        ("-2:2:2", [-2.0, 0.0, 2.0]),
        ("6", [6.0]),
        ("1:2:5", [1.0]),
    ],
)
def test_phi_range_includes_both_ends(text, expected):
    assert phi_range(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0:8:0", "step must be positive"),
        ("0:8:-1", "step must be positive"),
        ("8:0", "ends before it starts"),
        ("a:b", "expected START:END[:STEP]"),
        ("0:1:2:3", "expected START:END[:STEP]"),
        ("0:inf", "finite"),
        ("0:1000:0.5", "at most 1,000"),
    ],
)
def test_bad_phi_ranges_say_why(text, message):
    with pytest.raises(ValueError) as error:
        phi_range(text)
    assert message in str(error.value)


@pytest.fixture(scope="module")
def points():
    return api.sweep(B0, "0:2")


def test_points_are_what_a_build_reports(points):
    assert [p.point for p in points[:3]] == ["phi=0", "phi=1", "phi=2"]
    assert [p.point for p in points[3:]] == ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7",
                                             "b8", "l2"]  # fmt: skip
    for point in (points[1], points[-4]):
        selector = {"phi": point.phi} if point.kind == "phi" else {"preset": point.point}
        arch = specc.compile(B0, **selector)
        assert (point.params, point.macs) == (arch.params, arch.macs)
        assert point.resolution == arch.resolved.resolution
        assert point.blocks == len(arch.resolved.blocks)
        assert point.depth == arch.resolved.multipliers.depth


def test_presets_sit_at_their_nearest_phi(points):
    by_name = {p.point: p for p in points}
    assert by_name["b0"].equivalent_phi == 0.0  # all multipliers 1
    phis = [by_name[f"b{i}"].equivalent_phi for i in range(8)]
    assert phis == sorted(phis)  # the published family grows with phi
    assert by_name["b6"].equivalent_phi == pytest.approx(5.66, abs=0.01)
    assert by_name["phi=1"].equivalent_phi is None and by_name["b6"].phi is None


def test_a_compound_models_equivalent_phi_is_its_own_phi(b0):
    c = b0.spec.scaling.coefficients
    for phi in (-1.0, 0.5, 6.0):
        multipliers = (c.depth**phi, c.width**phi, c.resolution**phi)
        assert equivalent_phi(b0, *multipliers) == pytest.approx(phi)


def test_presets_can_be_left_out():
    points = api.sweep(B0, [6.0], presets=False)
    assert [p.point for p in points] == ["phi=6"] and points[0].params == 45_464_648


def test_the_size_guard_applies_to_every_point():
    with pytest.raises(SpecError, match="absurdly large"):
        api.sweep(B0, [14.0], presets=False)


def test_csv_has_a_row_per_point(points, tmp_path):
    path = tmp_path / "sweep.csv"
    write_csv(points, path)
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(points)
    assert rows[1]["point"] == "phi=1" and float(rows[1]["phi"]) == 1.0
    assert rows[1]["equivalent_phi"] == ""
    assert int(rows[1]["params"]) == points[1].params
    assert math.isclose(float(rows[-4]["equivalent_phi"]), points[-4].equivalent_phi)


def test_plot_is_a_png(points, tmp_path):
    path = tmp_path / "sweep.png"
    plot(points, path, "EfficientNet")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
