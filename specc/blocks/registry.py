"""The block kinds specc knows. Adding a kind: write its module, add it to `KINDS`."""

from __future__ import annotations

from specc.blocks import basic, bottleneck, conv, convnext, dsconv, fused_mbconv, mbconv
from specc.blocks.base import BlockKind

KINDS: dict[str, BlockKind] = {
    kind.name: kind
    for kind in (
        conv.KIND,
        mbconv.KIND,
        fused_mbconv.KIND,
        dsconv.KIND,
        bottleneck.KIND,
        basic.KIND,
        convnext.KIND,
    )
}


def get(name: str) -> BlockKind:
    return KINDS[name]
