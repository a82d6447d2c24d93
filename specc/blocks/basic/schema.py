"""The `basic` stage: the ResNet basic block (ResNet-18/34).

    x -> k x k conv1, norm, act (carries the stride) -> k x k conv2, norm
      -> drop path -> + shortcut(x) -> act

The shortcut is a strided 1x1 projection when the shape changes (`shortcut: auto`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specc.blocks.kind import StageBase
from specc.lang.parts import Shortcut


class BasicStage(StageBase):
    """A stage of ResNet basic blocks."""

    block: Literal["basic"]
    shortcut: Shortcut = Field("auto", description="auto: project when the shape changes")
