"""A YAML-defined block's IR nodes, one per node of its graph (a conv: conv, bn, act).

Node ids are the module paths of the generated class: `<block>.<node>.conv` for a conv
node, `<block>.<node>` for an activation, add, concat or shuffle, `<block>.<output>` for
each part of a split (a channel slice), `<block>.<node>.<i>.` for the i-th block of a
chain. A node left out by `when`, and an identity, add no IR node: the value is its input.
"""

from __future__ import annotations

from collections.abc import Mapping

from specc.blocks.graph.plan import GraphPlan
from specc.blocks.kind import LowerContext
from specc.blocks.parts.conv_norm_act import conv_norm_act, norm_layer
from specc.blocks.parts.squeeze_excite import SEPlan, lower_squeeze_excite
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import (
    Act,
    Add,
    AvgPool,
    Concat,
    Conv,
    MaxPool,
    Shuffle,
    Slice,
    conv_padding,
)
from specc.lang.expr import evaluate, parse
from specc.lang.graphs import INPUT, GraphBlock, Node, inputs_of


def lower_graph(
    builder: GraphBuilder,
    plan: GraphPlan,
    x: str,
    ctx: LowerContext,
    blocks: Mapping[str, GraphBlock],
) -> str:
    block = blocks[plan.definition]
    env = plan.env()
    values = {INPUT: x}
    previous = INPUT
    for index, node in enumerate(block.nodes):
        sources = [values[s] for s in inputs_of(node, previous)]
        scope = Scope("stage", plan.stage, plan.index, node.name)
        prefix = f"{plan.name}.{node.name}"
        if not plan.active[index] or node.op == "identity":
            out = sources[0]
        elif node.op == "split":
            assert node.outputs is not None and node.sizes is not None
            start = 0
            for output, raw in zip(node.outputs, node.sizes, strict=True):
                stop = start + int(evaluate(parse(raw, integer=True), env))
                values[output] = builder.add(
                    f"{plan.name}.{output}", Slice(start, stop), sources, scope
                )
                start = stop
            previous = node.outputs[-1]
            continue
        else:
            out = _lower_node(builder, node, plan, index, prefix, sources, scope, ctx, blocks)
        values[node.name] = out
        previous = node.name
    return values[block.output or previous]


def _lower_node(
    builder: GraphBuilder, node: Node, plan: GraphPlan, index: int, prefix: str,
    sources: list[str], scope: Scope, ctx: LowerContext, blocks: Mapping[str, GraphBlock],
) -> str:  # fmt: skip
    env = plan.env()

    def number(raw: object, default: int) -> int:
        return default if raw is None else int(evaluate(parse(raw, integer=True), env))

    match node.op:
        case "conv":
            kernel = number(node.kernel, 1)
            width = number(node.out, builder.shape(sources[0])[0])
            stride = number(node.stride, 1)
            groups = number(node.groups, 1)
            act = activation_of(node.act, plan.activation)
            if node.norm is False:
                size = builder.shape(sources[0])[-1]
                conv = Conv(
                    in_channels=builder.shape(sources[0])[0], out_channels=width,
                    kernel=kernel, stride=stride, groups=groups,
                    padding=conv_padding(size, kernel, stride, ctx.defaults.padding),
                    bias=bool(node.bias),
                )  # fmt: skip
                out = builder.add(f"{prefix}.conv", conv, sources, scope)
                if act is not None:
                    out = builder.add(f"{prefix}.act", Act(act), [out], scope)
                return out
            return conv_norm_act(
                builder, prefix, sources[0], scope, out_channels=width, kernel=kernel,
                stride=stride, groups=groups, activation=act, ctx=ctx, bias=bool(node.bias),
            )  # fmt: skip
        case "act":
            return builder.add(prefix, Act(node.fn or plan.activation), sources, scope)
        case "add":
            return builder.add(prefix, Add(arity=len(sources)), sources, scope)
        case "concat":
            return builder.add(prefix, Concat(arity=len(sources)), sources, scope)
        case "se":
            squeeze = SEPlan(number(node.out, 1), node.fn, node.gate or "sigmoid")
            return lower_squeeze_excite(
                builder, prefix, sources[0], squeeze, plan.activation, scope
            )
        case "shuffle":
            return builder.add(prefix, Shuffle(number(node.groups, 1)), sources, scope)
        case "norm":
            return norm_layer(builder, prefix, sources[0], scope, ctx)
        case "maxpool" | "avgpool":
            kernel = number(node.kernel, 1)
            stride = number(node.stride, kernel)
            ceil, padding = bool(node.ceil_mode), node.padding or 0
            pool = (
                MaxPool(kernel, stride, padding, ceil)
                if node.op == "maxpool"
                else AvgPool(kernel, stride, padding, ceil)
            )
            return builder.add(prefix, pool, sources, scope)
        case "block":
            out, outputs = sources[0], [sources[0]]
            for position, member in enumerate(plan.chain(index)):
                if node.dense and position > 0:
                    # Each block of a dense chain reads everything before it, concatenated.
                    joined = Concat(arity=len(outputs))
                    out = builder.add(f"{prefix}.{position}.inputs", joined, outputs, scope)
                out = lower_graph(builder, member, out, ctx, blocks)
                outputs.append(out)
            if node.dense and len(outputs) > 1:
                concat = Concat(arity=len(outputs))
                return builder.add(f"{prefix}.collect", concat, outputs, scope)
            if node.collect and len(outputs) > 1:
                # Not `prefix`: that is the chain's module, whose output is its last block's.
                concat = Concat(arity=len(outputs))
                return builder.add(f"{prefix}.collect", concat, outputs, scope)
            return out
    raise AssertionError(f"unhandled op {node.op!r}")  # the checker admits no other


def activation_of(act: str | None, block: str) -> str | None:
    """A conv node's activation: the block's (unset or `block`), none (`identity`), or a
    named one."""
    if act is None or act == "block":
        return block
    return None if act == "identity" else act
