"""The IR: a networkx DiGraph with one node per layer-level operation.

Node ids are the dotted module paths the PyTorch backend gives the same layers
(`stages.3.1.depthwise.conv`), so an IR node and the parameters of the generated module
line up by name. Each node carries:

- `op`: a typed op (`specc.ir.nodes`), holding its attributes;
- `inputs`: ordered input node ids (edges carry no order; `add` and `mul` need one);
- `shape`: the output shape without the batch dimension, inferred when the node is added;
- `scope`: which stage, block and role the node belongs to;
- after analysis, `params`, `macs` and `activations`.

Edges are tensors, residual edges included. The builder infers shapes as it goes but
never rejects anything: a broken network still becomes a graph, and the validation pass
reports everything that is wrong with it at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from specc.ir.nodes import OpBase, Shape, infer_shape


@dataclass(frozen=True)
class Scope:
    """Where a node sits in the network: `part` is stem, stage, head or classifier."""

    part: str
    stage: int | None = None  # 0-based stage index
    block: int | None = None  # 0-based block index within the stage
    role: str = ""  # e.g. "expand", "depthwise", "se", "project", "residual"

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "stage": self.stage, "block": self.block, "role": self.role}


class GraphBuilder:
    """Appends nodes to a DiGraph, inferring each node's output shape from its inputs."""

    def __init__(self) -> None:
        self.graph: nx.DiGraph = nx.DiGraph()

    def add(self, name: str, op: OpBase, inputs: Sequence[str], scope: Scope) -> str:
        """Add node `name` computing `op` on `inputs` (node ids, in order); returns `name`."""
        if name in self.graph:
            raise ValueError(f"duplicate IR node {name!r}")  # a lowering bug, not user input
        if not isinstance(op, OpBase):
            raise TypeError(f"IR node {name!r}: expected a specc.ir.nodes op, got {op!r}")
        shapes = [self.graph.nodes[i]["shape"] for i in inputs]
        shape = infer_shape(op, shapes)
        self.graph.add_node(name, op=op, inputs=tuple(inputs), shape=shape, scope=scope)
        for source in inputs:
            self.graph.add_edge(source, name)
        return name

    def shape(self, name: str) -> Shape:
        shape: Shape = self.graph.nodes[name]["shape"]
        return shape
