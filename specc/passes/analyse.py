"""Analysis: exact trainable parameters, MACs and activation sizes.

Per node (written onto the node as `params`, `macs`, `activations`), then summed per block,
per stage and in total. What counts is documented in `specc.ir.nodes`. Activations are the
elements of each node's output for one image; `peak` is not estimated, `total` is the sum
(what a training step keeps for backward if nothing is recomputed or fused).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from math import prod

import networkx as nx

from specc.ir.nodes import Input


@dataclass
class Counts:
    params: int = 0
    macs: int = 0
    activations: int = 0

    def add(self, params: int, macs: int, activations: int) -> None:
        self.params += params
        self.macs += macs
        self.activations += activations

    def to_dict(self) -> dict[str, int]:
        return {"params": self.params, "macs": self.macs, "activations": self.activations}


@dataclass
class Analysis:
    total: Counts = field(default_factory=Counts)
    by_part: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_stage: dict[int, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_block: dict[tuple[int, int], Counts] = field(default_factory=lambda: defaultdict(Counts))


def analyse(graph: nx.DiGraph) -> Analysis:
    result = Analysis()
    for _node, data in graph.nodes(data=True):
        inputs = [graph.nodes[i]["shape"] for i in data["inputs"]]
        op = data["op"]
        params = op.params(inputs, data["shape"])
        macs = op.macs(inputs, data["shape"])
        activations = 0 if isinstance(op, Input) else prod(data["shape"])
        data.update(params=params, macs=macs, activations=activations)
        scope = data["scope"]
        result.total.add(params, macs, activations)
        result.by_part[scope.part].add(params, macs, activations)
        if scope.stage is not None:
            result.by_stage[scope.stage].add(params, macs, activations)
            result.by_block[(scope.stage, scope.block)].add(params, macs, activations)
    return result
