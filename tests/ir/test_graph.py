"""The IR graph: lowering, the validation pass (all problems at once) and the analysis."""

from __future__ import annotations

import networkx as nx
import pytest

import specc
from specc.build.lower import lower
from specc.build.resolve import resolve
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import Act, Add, Conv, Input
from specc.passes.validate import validate
from specc.scaling.selector import Selector

# torchvision's trainable parameter counts and the reference GMACs (conv + linear + SE).
PRESETS = {
    "b0": (5_288_548, 0.386),
    "b1": (7_794_184, 0.687),
    "b2": (9_109_994, 0.994),
    "b3": (12_233_232, 1.827),
    "b4": (19_341_616, 4.394),
    "b5": (30_389_784, 10.266),
    "b6": (43_040_704, 19.068),
    "b7": (66_347_960, 37.746),
    "b8": (87_413_142, 62.597),
    "l2": (480_309_308, 475.704),
}
PHI_PARAMS = {-1: 4_548_152, 1: 9_109_994, 2: 12_255_408, 6: 45_464_648, 7: 68_741_810}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_params_and_macs_match_the_references(b0, name):
    arch = specc.compile(b0, preset=name)
    params, gmacs = PRESETS[name]
    assert arch.params == params
    assert arch.macs / 1e9 == pytest.approx(gmacs, rel=0.005)


@pytest.mark.parametrize("phi", sorted(PHI_PARAMS))
def test_phi_params_match_the_reference(b0, phi):
    assert specc.compile(b0, phi=phi).params == PHI_PARAMS[phi]


def test_graph_structure_of_b0(b0):
    graph = lower(resolve(b0, Selector()))
    assert nx.is_directed_acyclic_graph(graph)
    ops = nx.get_node_attributes(graph, "op")
    assert sum(isinstance(op, Add) for op in ops.values()) == 9  # 16 blocks, 7 change shape
    # The first block of stage 1 changes shape, so it has no add; its output is the norm.
    assert graph.nodes["stages.1.1.add"]["inputs"] == (
        "stages.1.1.drop_path",
        "stages.1.0.project.bn",
    )
    assert graph.nodes["stages.1.0.depthwise.conv"]["op"].groups == 96
    assert "stages.0.0.expand.conv" not in graph  # expansion 1: no expansion conv
    assert graph.nodes["classifier"]["shape"] == (1000,)
    scope = graph.nodes["stages.3.2.se.reduce"]["scope"]
    assert (scope.part, scope.stage, scope.block, scope.role) == ("stage", 3, 2, "se")


def test_same_padding_is_asymmetric_at_stride_2(b0):
    loaded = specc.load(b0.file, ["defaults.padding=same"])
    graph = lower(resolve(loaded, Selector()))
    assert graph.nodes["stem.conv"]["op"].padding == (0, 1, 0, 1)
    assert graph.nodes["stages.2.0.depthwise.conv"]["op"].padding == (1, 2, 1, 2)
    assert graph.nodes["stages.2.1.depthwise.conv"]["op"].padding == (2, 2, 2, 2)
    assert graph.nodes["stem.conv"]["shape"] == (32, 112, 112)


def test_analysis_sums_per_stage_and_block(b0):
    arch = specc.compile(b0, preset="b0")
    analysis = arch.analysis
    assert (
        sum(c.params for c in analysis.by_stage.values())
        + sum(analysis.by_part[p].params for p in ("stem", "head", "classifier"))
        == analysis.total.params
    )
    # stem: 3x3x3x32 conv + 2x32 norm.
    assert analysis.by_part["stem"].params == 3 * 3 * 3 * 32 + 64
    assert analysis.by_part["stem"].macs == 112 * 112 * 3 * 3 * 3 * 32
    assert analysis.by_part["classifier"].params == 1280 * 1000 + 1000
    assert analysis.by_block[(0, 0)].params == sum(
        c.params for key, c in analysis.by_block.items() if key == (0, 0)
    )


def _tiny_graph() -> GraphBuilder:
    builder = GraphBuilder()
    scope = Scope("stage", 0, 0, "test")
    builder.add("input", Input((8, 4, 4)), [], Scope("input"))
    pad = (1, 1, 1, 1)
    builder.add("a", Conv(8, 16, 3, stride=2, groups=1, padding=pad, bias=False), ["input"], scope)
    builder.add("b", Conv(8, 16, 3, stride=1, groups=1, padding=pad, bias=False), ["a"], scope)
    builder.add("sum", Add(), ["b", "input"], scope)  # 16x2x2 + 8x4x4: mismatch
    builder.add("orphan", Act("relu"), ["a"], scope)  # leads nowhere
    # 2x2 input, 3x3 kernel, no padding: collapses
    collapse = Conv(16, 0, 3, stride=1, groups=1, padding=(0, 0, 0, 0), bias=False)
    builder.add("out", collapse, ["sum"], scope)
    builder.graph.graph.update(input="input", output="out")
    return builder


def test_validation_reports_every_problem_at_once():
    problems = validate(_tiny_graph().graph)
    messages = {(p.node, p.message) for p in problems}
    assert ("b", "conv expects 8 input channels, gets 16") in messages
    assert ("sum", "shape mismatch at residual add: 16x2x2 vs 8x4x4") in messages
    assert ("orphan", "does not lead to the output") in messages
    assert ("out", "non-positive output channels: 0") in messages
    assert any(node == "out" and "spatial size collapses" in m for node, m in messages)


def test_validation_finds_cycles_and_unreachable_nodes():
    builder = _tiny_graph()
    builder.graph.add_edge("out", "a")
    assert any("cycle" in p.message for p in validate(builder.graph))
    builder = _tiny_graph()
    builder.add("island", Input((1, 1, 1)), [], Scope("input"))
    assert ("island", "unreachable from the input") in {
        (p.node, p.message) for p in validate(builder.graph)
    }


def test_valid_networks_have_no_problems(b0):
    for selector in (Selector(), Selector(phi=-3), Selector(preset="l2")):
        assert validate(lower(resolve(b0, selector))) == []


def test_graph_problems_become_located_diagnostics(b0, monkeypatch):
    import specc.build.driver
    from specc.passes.validate import Problem

    def broken(graph):
        return [Problem("stages.2.1.add", "shape mismatch"), Problem("head.conv", "too wide")]

    monkeypatch.setattr(specc.build.driver, "validate", broken)
    with pytest.raises(specc.SpecError) as excinfo:
        specc.compile(b0)
    stage_line = b0.locate("stages", 2).line
    head_line = b0.locate("head").line
    assert [str(d) for d in excinfo.value.diagnostics] == [
        f"{b0.file}:{stage_line}:5: phi = 0: stages.2.1.add: shape mismatch",
        f"{b0.file}:{head_line}:1: phi = 0: head.conv: too wide",
    ]
