"""Graph backend: the validated IR graph as Graphviz DOT or as node-link JSON.

DOT: one node per IR node (id = the node's dotted name), one edge per tensor, scopes as
nested clusters: the stem, each stage, each block inside its stage, the head and the
classifier; the input node stands outside them. Node-link JSON is the format of
`networkx.node_link_data` (keys `directed`, `multigraph`, `graph`, `nodes`, `edges`), built
here from JSON-safe values so that it reads back with `networkx.node_link_graph(data,
edges="edges")` on any networkx version. Both are deterministic: nodes in graph order.
Reads an Architecture only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specc.build.architecture import Architecture
from specc.ir.graph import Scope
from specc.ir.nodes import format_shape

FORMATS = ("dot", "json")


def to_dot(arch: Architecture) -> str:
    r = arch.resolved
    title = f"{r.class_name}, {r.selector.describe()}: {arch.params:,} params"
    lines = [
        f"digraph {_quote(r.name)} {{",
        f"  graph [label={_quote(title)}, labelloc=t, rankdir=TB, fontname=Helvetica];",
        "  node [shape=box, style=rounded, fontname=Helvetica, fontsize=10];",
    ]
    lines += _clusters(arch)
    lines += [f"  {_quote(a)} -> {_quote(b)};" for a, b in arch.graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


@dataclass
class _Cluster:
    nodes: list[str] = field(default_factory=list)
    children: dict[str, _Cluster] = field(default_factory=dict)  # in order of appearance


def _clusters(arch: Architecture) -> list[str]:
    """Node statements, grouped into nested clusters by scope."""
    root = _Cluster()
    for node, data in arch.graph.nodes(data=True):
        cluster = root
        for name in _cluster_path(data["scope"]):
            cluster = cluster.children.setdefault(name, _Cluster())
        cluster.nodes.append(node)
    stages = {stage.index: stage for stage in arch.resolved.stages}
    return _emit(arch, root, stages, "  ")


def _emit(arch: Architecture, cluster: _Cluster, stages: dict[int, Any], pad: str) -> list[str]:
    lines = [
        f"{pad}{_quote(node)} [label={_quote(_node_label(node, arch.graph.nodes[node]))}];"
        for node in cluster.nodes
    ]
    for name, child in cluster.children.items():
        lines.append(f"{pad}subgraph {_quote('cluster_' + name)} {{")
        lines.append(f"{pad}  label={_quote(_cluster_label(name, stages))};")
        lines += _emit(arch, child, stages, pad + "  ")
        lines.append(f"{pad}}}")
    return lines


def _cluster_path(scope: Scope) -> tuple[str, ...]:
    """stem -> ("stem",); stage 3 block 1 -> ("stage_3", "stage_3_block_1"); input -> ()."""
    if scope.stage is not None:
        stage = f"stage_{scope.stage}"
        return (stage,) if scope.block is None else (stage, f"{stage}_block_{scope.block}")
    return () if scope.part == "input" else (scope.part,)


def _cluster_label(cluster: str, stages: dict[int, Any]) -> str:
    parts = cluster.split("_")
    if parts[0] != "stage":
        return cluster
    stage = stages[int(parts[1])]
    if len(parts) == 2:
        return f"stage {stage.index}: {stage.repeats} × {stage.label}"
    return f"block {parts[1]}.{parts[3]}"


def _node_label(node: str, data: dict[str, Any]) -> str:
    attrs = data["op"].attributes()
    details = [data["op"].name]
    if "kernel" in attrs:
        details.append(f"k{attrs['kernel']} s{attrs.get('stride', 1)}")
    if attrs.get("groups", 1) != 1:
        details.append(f"g{attrs['groups']}")
    if "fn" in attrs:
        details.append(str(attrs["fn"]))  # the activation function
    shape = format_shape(data["shape"])
    return f"{node}\n{' '.join(details)}\n{shape}"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_node_link(arch: Architecture) -> dict[str, Any]:
    r = arch.resolved
    nodes = [
        {
            "id": node,
            "op": data["op"].name,
            "attrs": _json_safe(data["op"].attributes()),
            "inputs": list(data["inputs"]),
            "shape": list(data["shape"]),
            "scope": data["scope"].to_dict(),
            "params": data["params"],
            "macs": data["macs"],
            "activations": data["activations"],
        }
        for node, data in arch.graph.nodes(data=True)
    ]
    return {
        "directed": True,
        "multigraph": False,
        "graph": {
            "name": r.name,
            "selector": r.selector.to_dict(),
            "resolution": r.resolution,
            "output": arch.graph.graph["output"],
            "params": arch.params,
            "macs": arch.macs,
        },
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in arch.graph.edges],
    }


def _json_safe(value: Any) -> Any:
    """Tuples to lists, anything exotic to its text, so json.dumps never fails."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
