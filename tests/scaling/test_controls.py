"""Scaling controls and numeric semantics through `resolve` and the CLI: depth groups,
stages exempt from depth scaling, the channel cap, float against decimal arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.build.resolve import resolve
from specc.cli import main
from specc.diagnostics import SpecError
from specc.lang.load import loads
from specc.scaling.selector import Selector

SPEC = """\
format: 1
name: tiny
stem: {kernel: 3, stride: 2, channels: 200}
stages:
  - {block: mbconv, expand: 2.3, kernel: 3, stride: 1, channels: 200, repeats: 1}
scaling:
  arithmetic: float
"""


def compile_text(text: str, selector: Selector | None = None, overrides=()):
    return resolve(loads(text, "spec.yaml", overrides), selector or Selector())


def test_expand_2_3_on_200_is_459_with_a_located_warning_under_float():
    resolved = compile_text(SPEC)
    assert resolved.blocks[0].expanded == 459
    [warning] = resolved.warnings
    assert str(warning.location) == "spec.yaml:5:21"  # the `expand` key
    assert warning.path == "stages[0].expand"
    assert "200 x 2.3 gives 459 in float arithmetic but 460 exactly" in warning.message


def test_expand_2_3_on_200_is_460_under_decimal_without_warning():
    resolved = compile_text(SPEC.replace("arithmetic: float", "arithmetic: decimal"))
    assert resolved.blocks[0].expanded == 460
    assert resolved.warnings == ()


def test_the_2_3_case_builds_the_width_it_resolves():
    arch = specc.compile(loads(SPEC.replace("float", "decimal"), "spec.yaml"))
    assert "MBConv(200, 200, kernel_size=3, expanded=460," in specc.emit_pytorch(arch)


B0_LIKE = """\
format: 1
name: tiny
stem: {kernel: 3, stride: 2, channels: 32}
stages:
  - {block: mbconv, expand: 1, kernel: 3, stride: 1, channels: 16, repeats: 1}
  - {block: mbconv, expand: 6, kernel: 3, stride: 2, channels: 180, repeats: 25}
head: {kernel: 1, channels: 1280}
presets:
  p: {width: 1.4, depth: 2.2, resolution: 224}
"""


def test_reference_facts_under_float_warn_and_decimal_takes_the_written_numbers():
    floated = compile_text(B0_LIKE, Selector(preset="p"))
    assert (floated.stages[1].out_channels, floated.stages[1].repeats) == (248, 56)
    paths = [w.path for w in floated.warnings]
    assert paths == ["stages[1].channels", "stages[1].repeats"]
    exact = compile_text(B0_LIKE, Selector(preset="p"), ["scaling.arithmetic=decimal"])
    assert (exact.stages[1].out_channels, exact.stages[1].repeats) == (256, 55)
    assert exact.warnings == ()


@pytest.mark.parametrize("name", ["b0", "b4", "b7", "l2"])
def test_b0_presets_are_the_same_under_both_arithmetics_and_do_not_warn(b0, name):
    floated = resolve(b0, Selector(preset=name))
    exact = resolve(specc.load(b0.file, ["scaling.arithmetic=decimal"]), Selector(preset=name))
    assert floated.warnings == ()
    assert floated.stages == exact.stages and floated.head == exact.head


def test_unknown_arithmetic_is_a_located_error(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("arithmetic: float", "arithmetic: exact"))
    result = CliRunner().invoke(main, ["show", str(path)])
    assert result.exit_code == 1
    assert re.search(
        r"error: .*spec.yaml:7:3: scaling.arithmetic: .*'float' or 'decimal'", result.output
    )
    assert "Traceback" not in result.output


def test_show_and_build_print_the_warning_and_succeed(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    for args in (["show", str(path)], ["build", str(path), "--out", str(tmp_path / "out")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert f"warning: {path}:5:21: stages[0].expand: expanded width 200 x 2.3" in result.stderr
    assert (tmp_path / "out" / "model.py").exists()


# --- depth: groups, exempt stages -------------------------------------------------------

MOBILENETV3_LARGE = """\
format: 1
name: mnv3
stem: {kernel: 3, stride: 2, channels: 16}
stages:
  - {block: mbconv, expand: 1, kernel: 3, stride: 1, channels: 16, repeats: 1}
  - {block: mbconv, expand: 4, kernel: 3, stride: 2, channels: 24, repeats: 1, depth_group: s1}
  - {block: mbconv, expand: 3, kernel: 3, stride: 1, channels: 24, repeats: 1, depth_group: s1}
  - {block: mbconv, expand: 3, kernel: 5, stride: 2, channels: 40, repeats: 3}
  - {block: mbconv, expand: 6, kernel: 3, stride: 2, channels: 80, repeats: 1, depth_group: 3}
  - {block: mbconv, expand: 2.5, kernel: 3, stride: 1, channels: 80, repeats: 1, depth_group: 3}
  - {block: mbconv, expand: 2.3, kernel: 3, stride: 1, channels: 80, repeats: 2, depth_group: 3}
  - {block: mbconv, expand: 6, kernel: 3, stride: 1, channels: 112, repeats: 2}
  - {block: mbconv, expand: 6, kernel: 5, stride: 2, channels: 160, repeats: 3}
scaling:
  repeats: ceil
presets:
  d: {width: 1.0, depth: 1.0, resolution: 224}
"""
# timm's mobilenetv3_large_100 arch_def, stage by stage (the head conv left out).
MOBILENETV3_ARCH = [
    ["ds_r1_k3_s1_e1_c16_nre"],
    ["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
    ["ir_r3_k5_s2_e3_c40_se0.25_nre"],
    ["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
    ["ir_r2_k3_s1_e6_c112_se0.25"],
    ["ir_r3_k5_s2_e6_c160_se0.25"],
]


@pytest.mark.parametrize("depth", [0.5, 0.75, 1.0, 1.2, 1.4, 1.8, 2.2, 3.1])
@pytest.mark.parametrize(("rule", "trunc"), [("ceil", "ceil"), ("round_half_even", "round")])
def test_depth_groups_repeat_blocks_as_timm_decodes_the_arch_def(depth, rule, trunc):
    builder = pytest.importorskip("timm.models._efficientnet_builder")
    stages = builder.decode_arch_def(MOBILENETV3_ARCH, depth, depth_trunc=trunc)
    expected = [len(stage) for stage in stages]  # blocks per reference stage
    resolved = compile_text(
        MOBILENETV3_LARGE,
        Selector(preset="d"),
        [f"presets.d.depth={depth}", f"scaling.repeats={rule}"],
    )
    repeats = [s.repeats for s in resolved.stages]
    grouped = [repeats[0], sum(repeats[1:3]), repeats[3], sum(repeats[4:7]), *repeats[7:]]
    assert grouped == expected
    # ...and each configuration repeats as often as timm repeats it.
    kinds = [block["exp_ratio"] for block in stages[3]]
    assert [kinds.count(e) for e in (6.0, 2.5, 2.3)] == repeats[4:7]


LITE_STAGES = [
    ["ds_r1_k3_s1_e1_c16"],
    ["ir_r2_k3_s2_e6_c24"],
    ["ir_r2_k5_s2_e6_c40"],
    ["ir_r3_k3_s2_e6_c80"],
    ["ir_r3_k5_s1_e6_c112"],
    ["ir_r4_k5_s2_e6_c192"],
    ["ir_r1_k3_s1_e6_c320"],
]


@pytest.mark.parametrize("depth", [1.1, 1.2, 1.4, 1.8, 2.2])
def test_scale_depth_false_keeps_first_and_last_as_efficientnet_lite(b0, depth):
    builder = pytest.importorskip("timm.models._efficientnet_builder")
    stages = builder.decode_arch_def(LITE_STAGES, depth, fix_first_last=True)
    lite = specc.load(
        b0.file,
        ["stages[0].scale_depth=false", "stages[6].scale_depth=false", f"presets.b1.depth={depth}"],
    )
    resolved = resolve(lite, Selector(preset="b1"))
    assert [s.repeats for s in resolved.stages] == [len(stage) for stage in stages]


def test_a_group_interrupted_by_another_stage_is_a_located_error():
    broken = MOBILENETV3_LARGE.replace(
        "channels: 112, repeats: 2}", "channels: 112, repeats: 2, depth_group: s1}"
    )
    with pytest.raises(SpecError) as caught:
        compile_text(broken)
    [problem] = caught.value.diagnostics
    assert problem.path == "stages[7].depth_group"
    assert str(problem.location).startswith("spec.yaml:12:")
    assert "'s1' is interrupted" in problem.message and "1-2" in problem.message


def test_a_group_with_mixed_scale_depth_is_a_located_error(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        MOBILENETV3_LARGE.replace(
            "channels: 24, repeats: 1, depth_group: s1}",
            "channels: 24, repeats: 1, depth_group: s1, scale_depth: false}",
            1,
        )
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert re.search(
        r"spec.yaml:7:\d+: stages\[2\]\.scale_depth: scale_depth is true", result.output
    )


# --- the channel cap ---------------------------------------------------------------------

YOLO_LIKE = """\
format: 1
name: yolo
stem: {kernel: 3, stride: 2, channels: 64}
stages:
  - {block: conv, kernel: 3, stride: 2, channels: 128}
  - {block: conv, kernel: 3, stride: 2, channels: 1024}
scaling:
  channels: {max_channels: 1024}
presets:
  n: {width: 0.25, depth: 0.33, resolution: 640}
  s: {width: 0.50, depth: 0.33, resolution: 640}
  m: {width: 0.75, depth: 0.67, resolution: 640, max_channels: 768}
  l: {width: 1.00, depth: 1.00, resolution: 640, max_channels: 512}
  x: {width: 1.25, depth: 1.00, resolution: 640, max_channels: 512}
"""


@pytest.mark.parametrize(
    ("preset", "widths"),
    # Ultralytics' YOLOv8 widths of the 128- and 1024-channel layers at each scale.
    [("n", [32, 256]), ("s", [64, 512]), ("m", [96, 576]), ("l", [128, 512]), ("x", [160, 640])],
)
def test_max_channels_caps_before_the_width_multiplier_as_ultralytics(preset, widths):
    resolved = compile_text(YOLO_LIKE, Selector(preset=preset))
    assert [s.out_channels for s in resolved.stages] == widths


def test_max_channels_caps_the_stem_stages_and_a_scaled_head(b0):
    capped = specc.load(b0.file, ["scaling.channels.max_channels=160"])
    resolved = resolve(capped, Selector(preset="b4"))  # width 1.4
    assert resolved.stem.out_channels == 48  # 32 x 1.4, under the cap
    assert [s.out_channels for s in resolved.stages][-3:] == [160, 224, 224]  # 112, 192, 320
    assert resolved.head is not None and resolved.head.out_channels == 224  # 1280 capped


SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_shipped_spec_resolves_alike_in_both_arithmetics_without_warnings(path):
    floated, exact = specc.load(path), specc.load(path, ["scaling.arithmetic=decimal"])
    selectors = [Selector(preset=name) for name in floated.spec.presets]
    selectors += [Selector(phi=phi) for phi in range(-1, 9)]
    for selector in selectors:
        a, b = resolve(floated, selector, None), resolve(exact, selector, None)
        assert a.warnings == (), selector.label
        assert (a.stem, a.stages, a.head, a.resolution) == (b.stem, b.stages, b.head, b.resolution)


STAGE_2 = "channels: 40, repeats: 2, se: 0.25}"
STAGE_3 = "channels: 80, repeats: 3,"
STAGE_5 = "channels: 192, repeats: 4,"
BAD = {
    "unknown repeats rule": [("repeats: ceil", "repeats: round_even")],
    "unknown arithmetic": [("repeats: ceil", "repeats: ceil\n  arithmetic: binary")],
    "zero cap": [("round_limit: 0.9", "round_limit: 0.9\n    max_channels: 0")],
    "preset cap": [("b1: {width: 1.0,", "b1: {max_channels: -8, width: 1.0,")],
    "group list": [("channels: 24, repeats: 2,", "channels: 24, repeats: 2, depth_group: [1],")],
    "group bool": [("channels: 24, repeats: 2,", "channels: 24, repeats: 2, depth_group: true,")],
    "scale_depth text": [
        ("channels: 16, repeats: 1,", "channels: 16, repeats: 1, scale_depth: x,")
    ],
    "interrupted group": [  # stages 2 and 3 form group a; stage 5 joins it again
        (STAGE_2, STAGE_2.replace("}", ", depth_group: a}")),
        (STAGE_3, STAGE_3 + " depth_group: a,"),
        (STAGE_5, STAGE_5 + " depth_group: a,"),
    ],
}
WHERE = {
    "unknown repeats rule": "scaling.repeats",
    "unknown arithmetic": "scaling.arithmetic",
    "zero cap": "scaling.channels.max_channels",
    "preset cap": "presets.b1.max_channels",
    "group list": "stages[1].depth_group",
    "group bool": "stages[1].depth_group",
    "scale_depth text": "stages[0].scale_depth",
    "interrupted group": "stages[5].depth_group",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scaling_controls_are_located_errors_and_nothing_is_written(case, write_spec, tmp_path):
    spec, path = write_spec(*BAD[case]), WHERE[case]
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(spec), "--out", str(out)])
    assert result.exit_code == 1, result.output
    pattern = rf"^error: {re.escape(str(spec))}:\d+:\d+: {re.escape(path)}: "
    assert re.search(pattern, result.output, re.MULTILINE), result.output
    assert "Traceback" not in result.output
    assert not out.exists()
