"""The stage schemas of the built-in block kinds, by name: the language's stage union is
built from these and the plugins' (`specc.blocks.plugins.stage_schemas`).

Schemas only: importing this loads no block behaviour (plans, lowering, emission).
"""

from __future__ import annotations

from specc.blocks.basic.schema import BasicStage
from specc.blocks.bottleneck.schema import BottleneckStage
from specc.blocks.conv.schema import ConvStage
from specc.blocks.convnext.schema import ConvNeXtStage
from specc.blocks.dsconv.schema import DSConvStage
from specc.blocks.fused_mbconv.schema import FusedMBConvStage
from specc.blocks.kind import StageBase
from specc.blocks.mbconv.schema import MBConvStage
from specc.blocks.uib.schema import UIBStage

BUILTIN_SCHEMAS: dict[str, type[StageBase]] = {
    "conv": ConvStage,
    "mbconv": MBConvStage,
    "fused_mbconv": FusedMBConvStage,
    "dsconv": DSConvStage,
    "bottleneck": BottleneckStage,
    "basic": BasicStage,
    "convnext": ConvNeXtStage,
    "uib": UIBStage,
}
