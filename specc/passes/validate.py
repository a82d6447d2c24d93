"""Validation: every structural problem of an IR graph, as a list (never the first only).

Checked: cycles; nodes unreachable from the input or not leading to the output; wrong input
counts; each node's stored shape against the shape its op infers from its inputs; channel
bookkeeping of convs and linears (declared input width equals the incoming tensor, group
divisibility); non-positive channels; spatial sizes collapsing below 1; residual adds,
gating multiplies and concatenations whose operands do not fit; pools padded past half
their kernel.

The per-op checks `match` over every op class of `specc.ir.nodes` (mypy checks the match is
exhaustive), so a new op cannot be added without deciding what is checked for it. Problems
name the node; the compiler attaches spec locations to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

import networkx as nx

from specc.ir.nodes import (
    GRN,
    Act,
    AdaptiveAvgPool,
    Add,
    AvgPool,
    Concat,
    Conv,
    Dropout,
    DropPath,
    Flatten,
    GlobalPool,
    Input,
    LayerScale,
    Linear,
    MaxPool,
    MixConv,
    Mul,
    Norm,
    Op,
    Shape,
    Shuffle,
    Slice,
    infer_shape,
)
from specc.ir.nodes import format_shape as fmt


@dataclass(frozen=True)
class Problem:
    node: str
    message: str


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
    op, shape = data["op"], data["shape"]
    inputs = [graph.nodes[i]["shape"] for i in data["inputs"]]
    if len(inputs) != op.arity:
        return [f"{op.name} takes {op.arity} input(s), got {len(inputs)}"]
    if set(data["inputs"]) != set(graph.predecessors(node)):
        return ["its inputs and its incoming edges disagree"]

    messages = _check_op(op, inputs)
    expected = infer_shape(op, inputs)
    if tuple(shape) != tuple(expected):
        messages.append(f"stored shape {fmt(shape)} differs from the inferred {fmt(expected)}")
    if shape and shape[0] < 1:
        messages.append(f"non-positive channels: {shape[0]}")
    collapsed_input = any(size < 1 for s in inputs for size in s[1:])
    if any(size < 1 for size in shape[1:]) and not collapsed_input:
        # Reported where it starts; everything downstream inherits it.
        messages.append(f"spatial size collapses below 1: {fmt(shape)}")
    return messages


def _check_op(op: Op, inputs: list[Shape]) -> list[str]:
    """What is wrong with `op` given its input shapes (beyond the common shape checks)."""
    match op:
        case Conv():
            return _check_conv(op, inputs[0][0])
        case MixConv():
            return _check_mixconv(op, inputs[0][0])
        case Linear():
            if op.in_features != inputs[0][0]:
                return [f"linear expects {op.in_features} features, gets {inputs[0][0]}"]
            return []
        case MaxPool() | AvgPool():
            return _check_pool(op)
        case AdaptiveAvgPool():
            return [] if op.size >= 1 else [f"adaptive pool to a {op.size}x{op.size} map"]
        case Add():
            if any(shape != inputs[0] for shape in inputs[1:]):
                shapes = " vs ".join(fmt(shape) for shape in inputs)
                return [f"shape mismatch at residual add: {shapes}"]
            return []
        case Mul():
            left, right = inputs
            if len(left) != len(right) or left[0] != right[0]:
                return [f"shape mismatch at scale: {fmt(left)} vs {fmt(right)}"]
            return []
        case Concat():
            if any(shape[1:] != inputs[0][1:] for shape in inputs[1:]):
                shapes = " vs ".join(fmt(shape) for shape in inputs)
                return [f"concat of maps of different sizes: {shapes}"]
            return []
        case Slice():
            if not 0 <= op.start < op.stop <= inputs[0][0]:
                return [f"slice [{op.start}, {op.stop}) outside the {inputs[0][0]} channels"]
            return []
        case Shuffle():
            if op.groups < 1 or inputs[0][0] % op.groups:
                return [f"{op.groups} shuffle groups do not divide {inputs[0][0]} channels"]
            return []
        case (
            Input() | Norm() | Act() | GlobalPool() | GRN() | LayerScale() | DropPath()
            | Dropout() | Flatten()
        ):  # fmt: skip
            return []
        case _:
            assert_never(op)


def _check_pool(op: MaxPool | AvgPool) -> list[str]:
    # PyTorch refuses padding over half the kernel (a window of padding alone).
    if op.kernel < 1 or op.stride < 1:
        return [f"{op.name} kernel {op.kernel} / stride {op.stride} below 1"]
    if 2 * op.padding > op.kernel:
        return [f"{op.name} padding {op.padding} over half its kernel {op.kernel}"]
    return []


def _check_conv(op: Conv, actual: int) -> list[str]:
    messages = []
    if op.in_channels != actual:
        messages.append(f"conv expects {op.in_channels} input channels, gets {actual}")
    groups = op.groups
    if groups < 1 or op.in_channels % groups or op.out_channels % groups:
        messages.append(
            f"{groups} groups do not divide {op.in_channels} in / {op.out_channels} out channels"
        )
    if op.out_channels < 1:
        messages.append(f"non-positive output channels: {op.out_channels}")
    return messages


def _check_mixconv(op: MixConv, actual: int) -> list[str]:
    messages = []
    if op.in_channels != actual:
        messages.append(f"conv expects {op.in_channels} input channels, gets {actual}")
    if min(op.in_splits + op.out_splits) < 1:
        messages.append(
            f"{op.in_channels} in / {op.out_channels} out channels cannot be split over "
            f"{len(op.kernels)} kernels"
        )
    return messages
