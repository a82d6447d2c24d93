"""The `conv` stage: plain conv-norm-act layers (timm's `cn`), with `skip` a residual where
the block keeps the shape (timm's `cn` with skip).

    x -> k x k conv (`bias`), [norm], act -> [drop path, + x]

VGG's layers are this block with `bias: true` (and `norm: false` for VGG without batch norm).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.blocks.kind import StageBase


class ConvStage(StageBase):
    """A stage of plain conv-norm-act layers (timm's `cn`)."""

    block: Literal["conv"]
    skip: bool = Field(False, description="residual when stride 1 and in == out (timm cn skip)")
    bias: bool = Field(False, description="conv bias (VGG: with or without a norm after it)")
    norm: bool = Field(True, description="the spec's norm after the conv; false: none (VGG)")
