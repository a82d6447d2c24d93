"""Architecture: a resolved spec, its validated graph and the analysis, as one value.

This is what every backend reads, and what `architecture.json` serialises (with a stable
key order: identity, selector, multipliers, rules, stages, features, layers, totals), so
other tools can work from a generated folder without the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import networkx as nx

from specc import __version__
from specc.blocks.base import kernel_text
from specc.diagnostics import Diagnostic
from specc.passes.analyse import Analysis
from specc.scaling.resolve import ResolvedLayer, ResolvedSpec, ResolvedStage

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class PresetSummary:
    """The preset nearest to a phi build, with its own numbers, for comparison."""

    name: str
    depth: float
    width: float
    resolution: int
    params: int
    macs: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "depth": self.depth,
            "width": self.width,
            "resolution": self.resolution,
            "params": self.params,
            "macs": self.macs,
        }


@dataclass(frozen=True)
class Endpoint:
    """A feature map a detector would tap: the last trunk module at each reduction."""

    module: str  # "stem", "stem_conv" (before a stem pool), or the last block of a stage
    stage: int | None  # the stage it ends, None for the stem
    reduction: int
    shape: tuple[int, ...]

    @property
    def label(self) -> str:
        return self.module.replace("_", " ") if self.stage is None else f"stage {self.stage}"


@dataclass
class Architecture:
    resolved: ResolvedSpec
    graph: nx.DiGraph
    analysis: Analysis
    nearest_preset: PresetSummary | None = None
    # Warnings of every step (see specc.diagnostics); printed by the CLI, not serialised.
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def label(self) -> str:
        """The generated folder's name: `<spec name>-<selector label>`."""
        return f"{self.resolved.name}-{self.resolved.selector.label}"

    @property
    def params(self) -> int:
        return self.analysis.total.params

    @property
    def macs(self) -> int:
        return self.analysis.total.macs

    def shape_of(self, module: str) -> tuple[int, ...]:
        """Output shape of a module path (`stem`, `stages.2.1`, `head`)."""
        node = self.graph.graph["outputs"][module]
        shape: tuple[int, ...] = self.graph.nodes[node]["shape"]
        return shape

    @property
    def classifier_features(self) -> int:
        """Width of the features the classifier reads (after the hidden layer, if any)."""
        shape: tuple[int, ...] = self.graph.nodes["dropout"]["shape"]
        return shape[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        shape: tuple[int, ...] = self.graph.nodes["input"]["shape"]
        return shape

    @property
    def output_shape(self) -> tuple[int, ...]:
        shape: tuple[int, ...] = self.graph.nodes[self.graph.graph["output"]]["shape"]
        return shape

    def endpoints(self) -> list[Endpoint]:
        """The last trunk module at each reduction > 1: the stem conv (also where a stem
        pool follows it, as timm's `features_only` taps a ResNet at stride 2), the stem, the
        stages."""
        r = self.resolved
        trunk: list[tuple[str, int | None, int]] = [("stem", None, r.stem.stride)]
        if r.stem.pool is not None:
            trunk = [("stem_conv", None, r.stem.stride), ("stem", None, r.stem.pool[1])]
        trunk += [(stage.blocks[-1].name, stage.index, stage.stride) for stage in r.stages]
        reduction = 1
        last_at: dict[int, Endpoint] = {}
        for module, stage, stride in trunk:
            reduction *= stride
            last_at[reduction] = Endpoint(module, stage, reduction, self.shape_of(module))
        return [last_at[key] for key in sorted(last_at) if key > 1]

    def stage_rows(self) -> list[dict[str, Any]]:
        rows = []
        for stage in self.resolved.stages:
            counts = self.analysis.by_stage[stage.index]
            rows.append(
                {
                    "index": stage.index,
                    "block": stage.kind,
                    "label": stage.label,
                    # An int, or timm's notation of a mixed kernel ("3.5.7").
                    "kernel": stage.kernel
                    if isinstance(stage.kernel, int)
                    else kernel_text(stage.kernel),
                    "stride": stage.stride,
                    "expand": _expansion(stage),
                    "se": (stage.options.get("se") or {}).get("ratio"),
                    "in_channels": stage.in_channels,
                    "out_channels": stage.out_channels,
                    "repeats": stage.repeats,
                    "output": list(self.shape_of(stage.blocks[-1].name)),
                    "params": counts.params,
                    "macs": counts.macs,
                }
            )
        return rows

    def layer_rows(self) -> list[dict[str, Any]]:
        rows = []
        for node in nx.topological_sort(self.graph):
            data = self.graph.nodes[node]
            attrs = data["attrs"]
            inputs = [list(self.graph.nodes[i]["shape"]) for i in data["inputs"]]
            rows.append(
                {
                    "name": node,
                    "op": data["op"],
                    "scope": data["scope"].to_dict(),
                    "inputs": list(data["inputs"]),
                    "in_shape": inputs[0] if inputs else None,
                    "out_shape": list(data["shape"]),
                    "kernel": kernel_text(tuple(attrs["kernels"]))
                    if "kernels" in attrs
                    else attrs.get("kernel"),
                    "stride": attrs.get("stride"),
                    "groups": attrs.get("groups"),
                    "params": data["params"],
                    "macs": data["macs"],
                    "activations": data["activations"],
                }
            )
        return rows

    def totals(self) -> dict[str, int]:
        total = self.analysis.total
        return {
            "params": total.params,
            "macs": total.macs,
            "flops": 2 * total.macs,
            "activations": total.activations,
            "blocks": len(self.resolved.blocks),
            "layers": self.graph.number_of_nodes(),
        }

    def to_dict(self, *, layers: bool = True) -> dict[str, Any]:
        """architecture.json; `layers=False` leaves out the per-layer list (and its cost)."""
        r = self.resolved
        return {
            "schema": SCHEMA_VERSION,
            "specc": __version__,
            "name": r.name,
            "class_name": r.class_name,
            "spec": {
                "file": PurePath(r.file).name,
                "sha256": r.spec_hash,
                "overrides": list(r.overrides),
            },
            "selector": r.selector.to_dict(),
            "multipliers": r.multipliers.to_dict(),
            "resolution": r.resolution,
            "input": list(self.input_shape),
            "num_classes": r.num_classes,
            "dropout": r.dropout,
            "drop_path": r.drop_path,
            "defaults": r.defaults.model_dump(mode="json"),
            "rules": r.rules,
            "stem": _layer_row(self, r.stem),
            "stages": self.stage_rows(),
            "head": _layer_row(self, r.head) if r.head is not None else None,
            "features": [
                {"module": e.label, "reduction": e.reduction, "shape": list(e.shape)}
                for e in self.endpoints()
            ],
            "layers": self.layer_rows() if layers else None,
            "totals": self.totals(),
            "nearest_preset": self.nearest_preset.to_dict() if self.nearest_preset else None,
        }


def _expansion(stage: ResolvedStage) -> float | None:
    """The stage's expansion ratio; for a stated expanded width (`expanded:`), the first
    block's actual ratio, to 2 decimals (MobileNetV3's 64 / 16 = 4)."""
    if stage.options.get("expanded") is None:
        ratio: float | None = stage.options.get("expand")
        return ratio
    first = stage.blocks[0]
    return round(int(first.extra["expanded"]) / first.in_channels, 2)


def _layer_row(arch: Architecture, layer: ResolvedLayer) -> dict[str, Any]:
    counts = arch.analysis.by_part[layer.name]
    return {
        "kernel": layer.kernel,
        "stride": layer.stride,
        "in_channels": layer.in_channels,
        "out_channels": layer.out_channels,
        "activation": layer.activation,
        "output": list(arch.shape_of(layer.name)),
        "params": counts.params,
        "macs": counts.macs,
    }
