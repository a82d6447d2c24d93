"""specc.tools.diff and its operands: what differs between two architectures, and why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import specc
from specc import api
from specc.diagnostics import SpecError
from specc.tools.operands import open_operand

ROOT = Path(__file__).resolve().parents[2]
B0 = ROOT / "specs" / "b0.yaml"


@pytest.fixture(scope="module")
def phi6_vs_b6():
    return api.diff(f"{B0}@phi=6", f"{B0}@preset=b6")


@pytest.fixture(scope="module")
def phi6_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("built") / "phi6"
    specc.write(specc.compile(B0, phi=6), folder)
    return folder


def values(result, path):
    change = result.change(path)
    assert change is not None, f"{path} did not change"
    return change.a, change.b


def test_phi6_against_b6_reports_what_the_scaling_changed(phi6_vs_b6):
    d = phi6_vs_b6
    assert not d.same
    repeats = [values(d, f"stages[{i}].repeats") for i in (3, 4, 5)]
    assert repeats == [(9, 8), (9, 8), (12, 11)]
    assert d.change("stages[0].repeats") is None  # 3 blocks either way
    assert values(d, "stages[6].out_channels") == (568, 576)
    assert values(d, "head.out_channels") == (2264, 2304)
    assert values(d, "totals.params") == (45_464_648, 43_040_704)
    assert values(d, "resolution") == (518, 528)
    assert values(d, "totals.blocks") == (48, 45)
    params = d.change("totals.params")
    assert params.delta == 43_040_704 - 45_464_648
    assert params.relative == pytest.approx(-0.0533, abs=1e-4)


def test_each_difference_is_traced_to_the_resolved_value_it_comes_from(phi6_vs_b6):
    d = phi6_vs_b6
    assert d.baseline is not None and d.baseline.startswith("same spec")
    assert d.change("stages[3].repeats").because == ("multipliers.depth",)
    assert d.change("stages[6].out_channels").because == ("multipliers.width",)
    assert d.change("resolution").because == ("multipliers.resolution",)
    assert d.change("stages[1].output").because == ("resolution",)
    texts = {e.because: e.text for e in d.explanations}
    depth = texts[("multipliers.depth",)]
    assert "depth multiplier 2.986 (1.2^6) vs 2.6 (preset b6)" in depth
    assert "repeats 3 6 6 9 9 12 3 vs 3 6 6 8 8 11 3" in depth
    width = texts[("multipliers.width",)]
    assert "stage 6 channels 568 vs 576" in width and "head channels 2264 vs 2304" in width


def test_layers_are_matched_by_name(phi6_vs_b6):
    layers = phi6_vs_b6.layers
    # b6 has one block fewer in stages 3, 4 and 5: their last blocks' layers are gone.
    blocks = {".".join(name.split(".")[:3]) for name in layers.removed}
    assert blocks == {"stages.3.8", "stages.4.8", "stages.5.11"}
    assert layers.added == []
    head = next(c for c in layers.changed if c.name == "head.conv")
    assert head.fields["out_shape"] == ([2264, 17, 17], [2304, 17, 17])
    assert "stem.conv" in {c.name for c in layers.changed}  # 518 vs 528 px input


def test_a_spec_and_its_generated_folder_are_the_same(phi6_folder):
    d = api.diff(f"{B0}@phi=6", str(phi6_folder))
    assert d.same, [c.path for c in d.changes]
    assert d.a.kind == "spec" and d.b.kind == "folder"
    assert d.unified() == []
    # The record file itself is an operand too.
    assert api.diff(str(phi6_folder / "architecture.json"), f"{B0}@phi=6").same


def test_selectors_that_build_the_same_network_are_the_same():
    # Provenance (the selector) is not compared; the network is.
    assert api.diff(f"{B0}@preset=b0", str(B0)).same


def test_unified_diff_compares_the_model_sources(phi6_folder):
    lines = api.diff(str(phi6_folder), f"{B0}@preset=b6").unified()
    text = "".join(lines)
    assert lines[0].startswith("--- a: ") and lines[1].startswith("+++ b: ")
    assert "-        self.stem = ConvNormAct(3, 56, 3, stride=2)" not in text  # same stem
    assert "-    FEATURE_CHANNELS = (32, 40, 72, 200, 568)" in text
    assert "+    FEATURE_CHANNELS = (32, 40, 72, 200, 576)" in text


def test_inline_overrides_apply_to_one_side_and_are_traced_to_the_spec():
    d = api.diff(f"{B0}@phi=6", f"{B0}@phi=6,stages[5].repeats=5")
    assert values(d, "stages[5].repeats") == (12, 15)
    assert d.change("stages[5].repeats").because == ("spec",)
    assert d.baseline is not None and "name" in d.baseline  # the hashes differ
    (explanation,) = d.explanations
    assert "stages[5].repeats=5" in explanation.text


def test_a_rule_change_is_a_cause_beside_the_multiplier():
    d = api.diff(f"{B0}@phi=4", f"{B0}@phi=4.5,scaling.repeats=round")
    assert values(d, "rules.repeats") == ("ceil", "round")
    assert d.change("stages[0].repeats").because == ("multipliers.depth", "rules.repeats")
    dropout = d.change("dropout")
    assert dropout.because == ("selector",) and dropout.b > dropout.a


def test_settings_that_change_no_shape_still_differ():
    d = api.diff(str(B0), f"{B0}@defaults.norm.eps=1e-5")
    assert not d.same and d.layers.empty
    assert values(d, "defaults.norm.eps") == (1e-3, 1e-5)


def test_different_specs_are_compared_but_not_traced(write_spec):
    other = write_spec(("name: efficientnet", "name: other"))
    d = api.diff(str(B0), str(other))
    assert d.baseline is None and d.explanations == []
    assert values(d, "name") == ("efficientnet", "other")


def test_to_dict_is_json_and_lists_layers_only_when_asked(phi6_vs_b6):
    short = json.loads(json.dumps(phi6_vs_b6.to_dict()))
    assert short["same"] is False
    assert short["layers"] == {"added": 0, "removed": 48, "changed": len(phi6_vs_b6.layers.changed)}
    full = phi6_vs_b6.to_dict(layers=True)
    assert len(full["layers"]["removed"]) == 48
    change = next(c for c in short["changes"] if c["path"] == "stages[5].repeats")
    assert change == {"path": "stages[5].repeats", "a": 12, "b": 11, "delta": -1,
                      "relative": pytest.approx(-1 / 12),
                      "because": ["multipliers.depth"]}  # fmt: skip


BAD_OPERANDS = {
    "missing file": ("nope.yaml@phi=6", "nope.yaml: no such file or folder"),
    "phi not a number": ("{b0}@phi=six", "phi must be a number, got 'six'"),
    "phi and preset": ("{b0}@phi=6,preset=b6", "phi and preset exclude each other"),
    "no equals sign": ("{b0}@b6", "'b6': expected phi=NUMBER, preset=NAME or PATH=VALUE"),
    "unknown preset": ("{b0}@preset=b66", "unknown preset 'b66'"),
    "bad override": ("{b0}@stem.kernel=x", "stem.kernel"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPERANDS))
def test_bad_operands_are_located_errors(case):
    text, message = BAD_OPERANDS[case]
    with pytest.raises(SpecError) as error:
        open_operand(text.format(b0=B0))
    assert message in str(error.value)


def test_a_folder_takes_no_selector(phi6_folder):
    with pytest.raises(SpecError, match="applies to spec files only"):
        open_operand(f"{phi6_folder}@phi=6")


def test_an_existing_path_with_an_at_sign_is_not_split(tmp_path):
    path = tmp_path / "b0@phi=1.yaml"
    shutil.copy(B0, path)
    assert open_operand(str(path)).record["selector"]["phi"] == 0.0


def corrupt(folder: Path, edit) -> None:
    file = folder / "architecture.json"
    data = json.loads(file.read_text())
    edit(data)
    file.write_text(json.dumps(data))


CORRUPTIONS = {
    "stage without repeats": (lambda d: d["stages"][2].pop("repeats"), "stages[2].repeats"),
    "params as text": (lambda d: d["totals"].update(params="many"), "totals.params"),
    "no layers": (lambda d: d.pop("layers"), "layers: Field required"),
    "newer schema": (lambda d: d.update(schema=99), "schema 99 is not the one this specc reads"),
    "preset without a name": (
        lambda d: d["selector"].update(mode="preset"),
        "selector: Value error, a preset selector needs its preset",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_corrupt_record_names_the_field(phi6_folder, tmp_path, case):
    folder = tmp_path / "copy"
    shutil.copytree(phi6_folder, folder)
    edit, message = CORRUPTIONS[case]
    corrupt(folder, edit)
    with pytest.raises(SpecError) as error:
        open_operand(str(folder))
    assert message in str(error.value)
    assert str(folder / "architecture.json") in str(error.value)


def test_truncated_json_and_a_missing_record_are_reported(phi6_folder, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(phi6_folder, folder)
    file = folder / "architecture.json"
    file.write_text(file.read_text()[:200])
    with pytest.raises(SpecError, match=r"architecture\.json:\d+:\d+: not valid JSON"):
        open_operand(str(folder))
    file.unlink()
    with pytest.raises(SpecError, match=r"no architecture\.json here"):
        open_operand(str(folder))


def test_a_folder_without_model_py_fails_only_the_unified_diff(phi6_folder, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(phi6_folder, folder)
    (folder / "model.py").unlink()
    result = api.diff(str(folder), f"{B0}@phi=6")
    assert result.same
    with pytest.raises(SpecError, match=r"no model\.py here"):
        result.unified()
