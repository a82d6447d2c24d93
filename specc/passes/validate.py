"""Validation: every structural problem of an IR graph, as a list (never the first only).

Checked: cycles; nodes unreachable from the input or not leading to the output; unknown
ops and wrong input counts; each node's stored shape against the shape its op infers from
its inputs; channel bookkeeping of convs and linears (declared input width equals the
incoming tensor, group divisibility); non-positive channels; spatial sizes collapsing
below 1; residual adds and gating multiplies whose operands differ in shape.

Problems name the node; the compiler attaches spec locations to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from specc.ir.graph import infer_shape
from specc.ir.ops import OPS


@dataclass(frozen=True)
class Problem:
    node: str
    message: str


def fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) if shape else "()"


def validate(graph: nx.DiGraph) -> list[Problem]:
    problems: list[Problem] = []
    if not nx.is_directed_acyclic_graph(graph):
        cycle = [edge[0] for edge in nx.find_cycle(graph)]
        problems.append(Problem(cycle[0], f"cycle: {' -> '.join([*cycle, cycle[0]])}"))
        return problems  # shapes cannot be checked in order around a cycle

    source, sink = graph.graph.get("input"), graph.graph.get("output")
    reached = {source, *nx.descendants(graph, source)} if source in graph else set()
    leading = {sink, *nx.ancestors(graph, sink)} if sink in graph else set()
    for node in graph.nodes:
        if node not in reached:
            problems.append(Problem(node, "unreachable from the input"))
        elif node not in leading:
            problems.append(Problem(node, "does not lead to the output"))

    for node in nx.topological_sort(graph):
        problems.extend(Problem(node, message) for message in _check_node(graph, node))
    return problems


def _check_node(graph: nx.DiGraph, node: str) -> list[str]:
    data = graph.nodes[node]
    op, attrs, shape = data["op"], data["attrs"], data["shape"]
    if op not in OPS:
        return [f"unknown op {op!r}"]
    inputs = [graph.nodes[i]["shape"] for i in data["inputs"]]
    if len(inputs) != OPS[op].arity:
        return [f"{op} takes {OPS[op].arity} input(s), got {len(inputs)}"]
    if set(data["inputs"]) != set(graph.predecessors(node)):
        return ["its inputs and its incoming edges disagree"]

    messages = []
    if op == "concat" and inputs[0][1:] != inputs[1][1:]:
        messages.append(f"concat of maps of different sizes: {fmt(inputs[0])} vs {fmt(inputs[1])}")
    if op in ("add", "mul"):
        messages += _check_elementwise(op, inputs)
    elif op == "conv":
        messages += _check_grouped("conv", attrs["in_channels"], inputs[0][0], attrs)
    elif op == "mixconv":
        if attrs["in_channels"] != inputs[0][0]:
            messages.append(
                f"conv expects {attrs['in_channels']} input channels, gets {inputs[0][0]}"
            )
        if min(attrs["in_splits"] + attrs["out_splits"]) < 1:
            messages.append(
                f"{attrs['in_channels']} in / {attrs['out_channels']} out channels cannot be "
                f"split over {len(attrs['kernels'])} kernels"
            )
    elif op == "maxpool" and 2 * attrs["padding"] > attrs["kernel"]:
        messages.append(f"max pool padding {attrs['padding']} over half its kernel")
    elif op == "linear" and attrs["in_features"] != inputs[0][0]:
        messages.append(f"linear expects {attrs['in_features']} features, gets {inputs[0][0]}")

    expected = infer_shape(op, attrs, inputs)
    if tuple(shape) != tuple(expected):
        messages.append(f"stored shape {fmt(shape)} differs from the inferred {fmt(expected)}")
    if shape and shape[0] < 1:
        messages.append(f"non-positive channels: {shape[0]}")
    collapsed_input = any(size < 1 for s in inputs for size in s[1:])
    if any(size < 1 for size in shape[1:]) and not collapsed_input:
        # Reported where it starts; everything downstream inherits it.
        messages.append(f"spatial size collapses below 1: {fmt(shape)}")
    return messages


def _check_elementwise(op: str, inputs: list[tuple[int, ...]]) -> list[str]:
    left, right = inputs
    if op == "add" and left != right:
        return [f"shape mismatch at residual add: {fmt(left)} vs {fmt(right)}"]
    if op == "mul" and (len(left) != len(right) or left[0] != right[0]):
        return [f"shape mismatch at scale: {fmt(left)} vs {fmt(right)}"]
    return []


def _check_grouped(op: str, declared: int, actual: int, attrs: dict[str, int]) -> list[str]:
    messages = []
    if declared != actual:
        messages.append(f"{op} expects {declared} input channels, gets {actual}")
    groups = attrs["groups"]
    if groups < 1 or declared % groups or attrs["out_channels"] % groups:
        messages.append(
            f"{groups} groups do not divide {declared} in / {attrs['out_channels']} out channels"
        )
    if attrs["out_channels"] < 1:
        messages.append(f"non-positive output channels: {attrs['out_channels']}")
    return messages
