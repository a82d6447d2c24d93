"""The record of a YAML-defined block kind: a `BlockKind` built per spec from its
`blocks:` entry, so that resolving, lowering and the tables treat it as any other kind.
Its class is written by `specc.emit.pytorch.graphs` (no template file)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from specc.blocks.graph.lower import lower_graph
from specc.blocks.graph.plan import GraphPlan, Planner
from specc.blocks.kind import (
    Argument,
    BlockEmitter,
    BlockKind,
    BlockPlan,
    EmitContext,
    LowerContext,
    PlanContext,
    StageBase,
    uses,
)
from specc.diagnostics import Location
from specc.ir.graph import GraphBuilder
from specc.lang.expr import Value
from specc.lang.graphs import GraphBlock, class_name
from specc.scaling.arith import Number
from specc.scaling.rounding import round_channels


def arguments(plan: GraphPlan, ctx: EmitContext) -> list[Argument]:
    """The block's call: in and out channels, then the class's keywords (stride only
    where it is not 1)."""
    args: list[Argument] = [(None, plan.in_channels), (None, plan.out_channels)]
    for key, value in plan.arguments:
        if key == "stride" and value == 1:
            continue
        args.append((key, value))
    return args


def graph_kind(name: str, blocks: Mapping[str, GraphBlock]) -> BlockKind[Any, GraphPlan]:
    """The kind `name` of `blocks` (the spec's YAML kinds) as a BlockKind."""
    block = blocks[name]

    def plan(stage: StageBase, site: BlockPlan, ctx: PlanContext) -> GraphPlan:
        channels = ctx.rules.channels

        def divisible(value: Value) -> int:
            number: Number = value if not isinstance(value, bool) else int(value)
            return round_channels(
                number, 1, channels.divisor, channels.round_limit, channels.min,
                ctx.rules.arithmetic,
            )  # fmt: skip

        planner = Planner(
            blocks, ctx.locate or (lambda *path: Location("<spec>")),
            ctx.rules.arithmetic, divisible, ctx.scale_depth, ctx.round_width,
        )  # fmt: skip
        return planner.plan(name, site, getattr(stage, "params", {}))

    def lower(builder: GraphBuilder, plan: GraphPlan, x: str, ctx: LowerContext) -> str:
        return lower_graph(builder, plan, x, ctx, blocks)

    def describe(stage: StageBase) -> str:
        return name

    nodes = ", ".join(node.name for node in block.nodes)
    squeeze = uses_op(name, blocks, "se")

    def parts(plan: GraphPlan) -> frozenset[str]:
        return uses(squeeze_excite=squeeze)

    return BlockKind(
        name=name,
        schema=StageBase,
        plan=plan,
        lower=lower,
        emitter=BlockEmitter(
            class_name=class_name(name),
            template="",
            arguments=arguments,
            parts=parts,
            parameters=nodes,
        ),
        describe=describe,
    )


def uses_op(kind: str, blocks: Mapping[str, GraphBlock], op: str) -> bool:
    """Whether `kind` or a kind it chains has a node of `op`."""
    inner = [node.kind for node in blocks[kind].nodes if node.op == "block" and node.kind]
    return any(node.op == op for node in blocks[kind].nodes) or any(
        uses_op(name, blocks, op) for name in inner if name in blocks
    )


def has_depth(block: GraphBlock) -> bool:
    """Whether the kind scales by depth inside (a `depth` param): its stages then keep
    their block count under every depth multiple."""
    return any(param.type == "depth" for param in block.params.values())
