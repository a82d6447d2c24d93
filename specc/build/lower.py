"""Lowering: a ResolvedSpec becomes the IR graph, one node per layer-level op.

The stem, the head and the classifier are lowered here (their plans are the conv-norm-act
part's `LayerPlan`); every stage block is lowered by its own kind (`BlockKind.lower`) from
its plan, so this module never switches on block kinds.
"""

from __future__ import annotations

import networkx as nx

from specc.blocks.kind import LowerContext
from specc.blocks.parts.conv_norm_act import lower_layer, lower_pool, norm_layer
from specc.build.resolve import ResolvedSpec
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import Act, Dropout, Flatten, GlobalPool, Input, Linear


def lower(resolved: ResolvedSpec) -> nx.DiGraph:
    builder = GraphBuilder()
    ctx = LowerContext(resolved.defaults)
    shape = (resolved.in_channels, resolved.resolution, resolved.resolution)
    x = builder.add("input", Input(shape), [], Scope("input"))
    x = lower_layer(builder, resolved.stem, x, ctx)
    # module path -> its output node, for tables and endpoints; "stem" is the stem's output
    # after its pool, "stem_conv" the conv's where a pool follows
    outputs = {"stem": x}
    if resolved.stem.pool is not None:
        outputs["stem_conv"] = x
        x = outputs["stem"] = lower_pool(builder, resolved.stem, x)
    for block in resolved.blocks:
        x = outputs[block.name] = resolved.kind(block.kind).lower(builder, block, x, ctx)
    if resolved.head is not None:
        x = outputs["head"] = lower_layer(builder, resolved.head, x, ctx)
    scope = Scope("classifier")
    x = builder.add("pool", GlobalPool("avg"), [x], scope)
    if resolved.pool_norm:
        x = norm_layer(builder, "pool_norm", x, scope, ctx)
    x = builder.add("flatten", Flatten(), [x], scope)
    if resolved.hidden is not None:
        width, activation = resolved.hidden
        hidden = Linear(builder.shape(x)[0], width, bias=True)
        x = builder.add("hidden.0", hidden, [x], scope)
        x = builder.add("hidden.1", Act(activation), [x], scope)
    x = builder.add("dropout", Dropout(resolved.dropout), [x], scope)
    classifier = Linear(builder.shape(x)[0], resolved.num_classes, bias=True)
    x = builder.add("classifier", classifier, [x], scope)
    builder.graph.graph.update(input="input", output=x, outputs=outputs)
    return builder.graph
