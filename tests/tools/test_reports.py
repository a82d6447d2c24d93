"""The report backends: report.md, the per-layer table and the graph export (DOT, JSON).

(These backends live in specc/backends; their tests sit here beside the tools that
share their tables.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import pydot
import pytest

import specc
from specc.emit.graph import to_dot, to_node_link
from specc.emit.markdown import layers_markdown, report_markdown

ROOT = Path(__file__).resolve().parents[2]
B0 = ROOT / "specs" / "b0.yaml"
NO_HEAD = ("head:\n  kernel: 1\n  channels: 1280\n", "")


@pytest.fixture(scope="module")
def phi6():
    return specc.compile(B0, phi=6)


@pytest.fixture(scope="module")
def b6():
    return specc.compile(B0, preset="b6")


def table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    """The rows of the Markdown table whose header starts with `first_cell`."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_report_states_the_stage_table_and_totals(phi6):
    report = report_markdown(phi6)
    rows = table_rows(report, "stage")
    assert [row[0] for row in rows] == ["stem", "0", "1", "2", "3", "4", "5", "6", "head"]
    assert [row[7] for row in rows[1:-1]] == ["3", "6", "6", "9", "9", "12", "3"]
    assert rows[-2][6] == "344 → 568" and rows[-1][6] == "568 → 2264"
    assert "- parameters: 45,464,648" in report
    assert "FLOPs 40.188 G (= 2 × MACs" in report


def test_report_names_every_rounding_rule_used(phi6):
    report = report_markdown(phi6)
    for key in phi6.resolved.rules:
        assert f"- `scaling.{key}`:" in report
    assert "ceil(repeats × depth)" in report
    assert '`{"divisor": 8, "round_limit": 0.9, "min": null, "max_channels": null}`' in report
    assert "binary floating point, as TF, timm and torchvision." in report  # arithmetic


def test_report_compares_a_phi_build_with_its_nearest_preset(phi6, b6):
    near = report_markdown(phi6).split("## Nearest preset")[1]
    assert "b6 (depth 2.6, width 1.8, resolution 528" in near and "43,040,704" in near
    assert "45,464,648 parameters (+5.6%)" in near  # vs 43,040,704
    assert "preset b6 itself" in report_markdown(b6)


def test_report_is_deterministic_and_names_no_absolute_path(write_spec, tmp_path):
    spec = write_spec(("eps: 1.0e-3", "eps: 1.0e-4"))
    overrides = ["stages[5].repeats=5"]
    report = report_markdown(specc.compile(specc.load(spec, overrides), phi=1))
    assert report == report_markdown(specc.compile(specc.load(spec, overrides), phi=1))
    assert str(tmp_path) not in report
    assert "from `spec.yaml`" in report and "- `stages[5].repeats=5`" in report
    assert "batch norm eps 0.0001" in report


def test_build_writes_report_md_and_check_covers_it(tmp_path, phi6):
    result = specc.write(phi6, tmp_path / "out")
    report = tmp_path / "out" / "report.md"
    assert report in result.files and report.read_text() == report_markdown(phi6)
    report.write_text("edited\n")
    assert specc.write(phi6, tmp_path / "out", check=True).stale


def test_layer_table_has_a_row_per_ir_node_and_totals(phi6):
    text = layers_markdown(phi6)
    rows = table_rows(text, "layer")
    assert len(rows) == phi6.graph.number_of_nodes() + 1
    names = [row[0] for row in rows[:-1]]
    assert names == list(phi6.graph.nodes)
    stem = rows[names.index("stem.conv")]
    assert stem[1:7] == ["conv", "3x518x518", "56x259x259", "3", "2", "1"]
    totals = rows[-1]
    assert totals[0] == "**total (756 layers)**" and totals[7] == "**45,464,648**"


def graph_nodes(graph: pydot.Dot | pydot.Subgraph) -> list[str]:
    """Node statements, in every cluster; pydot lists attribute defaults as nodes too."""
    defaults = ("node", "edge", "graph")
    names = [n.get_name() for n in graph.get_nodes() if n.get_name() not in defaults]
    for sub in graph.get_subgraphs():
        names += graph_nodes(sub)
    return names


def clusters(graph: pydot.Dot | pydot.Subgraph, depth: int = 0) -> list[tuple[int, str]]:
    found = []
    for sub in graph.get_subgraphs():
        found.append((depth, sub.get_name().strip('"')))
        found += clusters(sub, depth + 1)
    return found


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's use of pyparsing
@pytest.mark.parametrize("head", [True, False], ids=["b0", "no head"])
def test_dot_parses_with_one_node_per_ir_node(write_spec, head):
    spec = B0 if head else write_spec(NO_HEAD)
    arch = specc.compile(spec, phi=-4)  # one block per stage: pydot parses slowly
    (graph,) = pydot.graph_from_dot_data(to_dot(arch))
    names = [name.strip('"') for name in graph_nodes(graph)]
    assert sorted(names) == sorted(arch.graph.nodes)
    edges = {(e.get_source().strip('"'), e.get_destination().strip('"')) for e in graph.get_edges()}
    assert edges == set(arch.graph.edges)
    found = clusters(graph)
    stages = [name for depth, name in found if depth == 0 and name.startswith("cluster_stage")]
    assert len(stages) == len(arch.resolved.stages)
    blocks = [name for depth, name in found if depth == 1]
    assert len(blocks) == len(arch.resolved.blocks)
    assert ("cluster_head" in [name for _, name in found]) is head


def test_dot_labels_say_op_and_shape(phi6):
    dot = to_dot(phi6)
    node = r'"stages\.3\.0\.depthwise\.conv" \[label="[^"]*conv k3 s2 g432\\n432x33x33"'
    assert re.search(node, dot)


def test_node_link_json_reads_back_into_networkx(phi6):
    data = json.loads(json.dumps(to_node_link(phi6)))
    graph = nx.node_link_graph(data, edges="edges")
    assert list(graph.nodes) == list(phi6.graph.nodes)
    assert set(graph.edges) == set(phi6.graph.edges)
    node = graph.nodes["stages.3.0.depthwise.conv"]
    assert node["shape"] == [432, 33, 33] and node["attrs"]["groups"] == 432
    assert node["scope"] == {"part": "stage", "stage": 3, "block": 0, "role": "depthwise"}
    assert sum(n["params"] for _, n in graph.nodes(data=True)) == phi6.params
