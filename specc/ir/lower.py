"""Lowering: a ResolvedSpec becomes the IR graph, one node per layer-level op.

The stem, the head and the classifier are lowered here; every stage block is lowered by
its own kind (`BlockKind.lower`), so this module never switches on block kinds.
"""

from __future__ import annotations

import networkx as nx

from specc.blocks.base import LowerContext
from specc.blocks.conv import conv_norm_act, norm_layer
from specc.blocks.registry import KINDS
from specc.ir.graph import GraphBuilder, Scope
from specc.scaling.resolve import ResolvedLayer, ResolvedSpec


def lower(resolved: ResolvedSpec) -> nx.DiGraph:
    builder = GraphBuilder()
    ctx = LowerContext(resolved.defaults)
    shape = (resolved.in_channels, resolved.resolution, resolved.resolution)
    x = builder.add("input", "input", [], Scope("input"), shape=shape)
    x = _layer(builder, resolved.stem, x, ctx)
    # module path -> its output node, for tables and endpoints; "stem" is the stem's output
    # after its pool, "stem_conv" the conv's where a pool follows
    outputs = {"stem": x}
    if resolved.stem.pool is not None:
        kernel, stride, pad = resolved.stem.pool
        outputs["stem_conv"] = x
        x = outputs["stem"] = builder.add(
            "stem_pool", "maxpool", [x], Scope("stem"), kernel=kernel, stride=stride, padding=pad
        )
    for block in resolved.blocks:
        x = outputs[block.name] = KINDS[block.kind].lower(builder, block, x, ctx)
    if resolved.head is not None:
        x = outputs["head"] = _layer(builder, resolved.head, x, ctx)
    scope = Scope("classifier")
    x = builder.add("pool", "pool", [x], scope, kind="avg")
    if resolved.pool_norm:
        x = norm_layer(builder, "pool_norm", x, scope, ctx)
    x = builder.add("flatten", "flatten", [x], scope)
    if resolved.hidden is not None:
        width, activation = resolved.hidden
        x = builder.add(
            "hidden.0", "linear", [x], scope, in_features=builder.shape(x)[0],
            out_features=width, bias=True,
        )  # fmt: skip
        x = builder.add("hidden.1", "act", [x], scope, fn=activation)
    x = builder.add("dropout", "dropout", [x], scope, rate=resolved.dropout)
    features = builder.shape(x)[0]
    x = builder.add(
        "classifier",
        "linear",
        [x],
        scope,
        in_features=features,
        out_features=resolved.num_classes,
        bias=True,
    )
    builder.graph.graph.update(input="input", output=x, outputs=outputs)
    return builder.graph


def _layer(builder: GraphBuilder, layer: ResolvedLayer, x: str, ctx: LowerContext) -> str:
    return conv_norm_act(
        builder,
        layer.name,
        x,
        Scope(layer.name),
        out_channels=layer.out_channels,
        kernel=layer.kernel,
        stride=layer.stride,
        groups=1,
        activation=None if layer.activation == "identity" else layer.activation,
        ctx=ctx,
        bias=layer.bias,
    )
