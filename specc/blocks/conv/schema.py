"""The `conv` stage: plain conv-norm-act layers (timm's `cn`), with `skip` a residual where
the block keeps the shape (timm's `cn` with skip).

    x -> k x k conv, norm, act -> [drop path, + x]
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.blocks.kind import StageBase


class ConvStage(StageBase):
    """A stage of plain conv-norm-act layers (timm's `cn`)."""

    block: Literal["conv"]
    skip: bool = Field(False, description="residual when stride 1 and in == out (timm cn skip)")
