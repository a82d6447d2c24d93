"""The block kinds specc knows. Adding a kind: write its module, add it to `KINDS`."""

from __future__ import annotations

from specc.blocks import conv, mbconv
from specc.blocks.base import BlockKind

KINDS: dict[str, BlockKind] = {kind.name: kind for kind in (conv.KIND, mbconv.KIND)}


def get(name: str) -> BlockKind:
    return KINDS[name]
