"""A stable text form of the IR, one line per node (`specc show --ir`), golden-tested.

    # stage 1, block 0 (mbconv6 k3 se0.25)
    stages.1.0.expand.conv = conv(stages.0.0.project.bn) in_channels=16 out_channels=96
        kernel=1 stride=1 groups=1 padding=(0, 0, 0, 0) bias=False -> 96x112x112
        params=1,536 macs=19,267,584

(on one line each). Nodes come in lowering order (inputs before their readers); a comment
line opens each scope (stem, each block of each stage, head, classifier). Attributes are
printed in their declaration order as Python literals; once the graph has been analysed,
nodes with parameters or MACs show both. Nothing in the text depends on dict order,
memory addresses or the platform, so the same graph always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from specc.ir.graph import Scope
from specc.ir.nodes import format_shape


def _value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value) if isinstance(value, str) else str(value)


def _header(scope: Scope, label: Callable[[int], str] | None) -> str:
    if scope.stage is None:
        return scope.part
    text = f"stage {scope.stage}"
    if scope.block is not None:
        text += f", block {scope.block}"
    if label is not None:
        text += f" ({label(scope.stage)})"
    return text


def dump(graph: nx.DiGraph, stage_label: Callable[[int], str] | None = None) -> str:
    """The graph as text; `stage_label(i)` names stage i's blocks in the comment lines."""
    lines = [
        f"# {graph.number_of_nodes()} nodes, from {graph.graph.get('input')} to "
        f"{graph.graph.get('output')}"
    ]
    last = None
    for node, data in graph.nodes(data=True):
        header = _header(data["scope"], stage_label)
        if header != last:
            lines.append(f"# {header}")
            last = header
        op = data["op"]
        attrs = "".join(f" {key}={_value(value)}" for key, value in op.attributes().items())
        inputs = ", ".join(data["inputs"])
        line = f"{node} = {op.name}({inputs}){attrs} -> {format_shape(data['shape'])}"
        if data.get("params") or data.get("macs"):
            line += f" params={data['params']:,} macs={data['macs']:,}"
        lines.append(line)
    return "\n".join(lines) + "\n"
