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
from specc.ir.nodes import (
    Act,
    AdaptiveAvgPool,
    Conv,
    Dropout,
    Flatten,
    GlobalPool,
    Input,
    Linear,
)


def lower(resolved: ResolvedSpec) -> nx.DiGraph:
    builder = GraphBuilder()
    ctx = LowerContext(resolved.defaults)
    shape = (resolved.in_channels, resolved.resolution, resolved.resolution)
    x = builder.add("input", Input(shape), [], Scope("input"))
    if resolved.stem_block is not None:  # a YAML kind as the stem (RepVGG)
        plan = resolved.stem_block
        x = resolved.kind(plan.kind).lower(builder, plan, x, ctx)
    else:
        x = lower_layer(builder, resolved.stem, x, ctx)
    # module path -> its output node, for tables and endpoints; "stem" is the stem's output
    # after its pool, "stem_conv" the conv's where a pool follows
    outputs = {"stem": x}
    if resolved.stem.pool is not None:
        outputs["stem_conv"] = x
        x = outputs["stem"] = lower_pool(builder, resolved.stem, x)
    for stage in resolved.stages:
        for block in stage.blocks:
            x = outputs[block.name] = resolved.kind(block.kind).lower(builder, block, x, ctx)
        if stage.pool is not None:
            scope = Scope("stage", stage.index, None, "pool")
            x = outputs[stage.output] = builder.add(stage.output, stage.pool, [x], scope)
    if resolved.head is not None:
        x = outputs["head"] = lower_layer(builder, resolved.head, x, ctx)
    scope = Scope("classifier")
    if resolved.conv_classifier:  # SqueezeNet: dropout, 1x1 conv + act, global pool
        x = builder.add("dropout", Dropout(resolved.dropout), [x], scope)
        conv = Conv(
            in_channels=builder.shape(x)[0], out_channels=resolved.num_classes, kernel=1,
            stride=1, groups=1, padding=(0, 0, 0, 0), bias=True,
        )  # fmt: skip
        x = builder.add("classifier.0", conv, [x], scope)
        x = builder.add("classifier.1", Act(resolved.defaults.activation), [x], scope)
        x = builder.add("pool", GlobalPool("avg"), [x], scope)
        x = builder.add("flatten", Flatten(), [x], scope)
        builder.graph.graph.update(input="input", output=x, outputs=outputs)
        return builder.graph
    pool = GlobalPool("avg") if resolved.pool_size == 1 else AdaptiveAvgPool(resolved.pool_size)
    x = builder.add("pool", pool, [x], scope)
    if resolved.pool_norm:
        x = norm_layer(builder, "pool_norm", x, scope, ctx)
    x = builder.add("flatten", Flatten(), [x], scope)
    index = 0  # hidden.<i>: the positions in the module's nn.Sequential
    for layer in resolved.hidden:
        linear = Linear(builder.shape(x)[0], layer.width, bias=layer.bias)
        x = builder.add(f"hidden.{index}", linear, [x], scope)
        if layer.norm:
            index += 1
            x = norm_layer(builder, f"hidden.{index}", x, scope, ctx)
        x = builder.add(f"hidden.{index + 1}", Act(layer.activation), [x], scope)
        index += 2
        if layer.dropout:
            x = builder.add(f"hidden.{index}", Dropout(layer.dropout), [x], scope)
            index += 1
    x = builder.add("dropout", Dropout(resolved.dropout), [x], scope)
    classifier = Linear(builder.shape(x)[0], resolved.num_classes, bias=True)
    x = builder.add("classifier", classifier, [x], scope)
    builder.graph.graph.update(input="input", output=x, outputs=outputs)
    return builder.graph
