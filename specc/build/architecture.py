"""Architecture: a resolved spec, its validated graph and the analysis, as one value.

This is what every emitter reads; `architecture.json` serialises it (`specc.build.record`,
one schema), so other tools can work from a generated folder without the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from specc.build import record
from specc.build.resolve import ResolvedSpec
from specc.diagnostics import Diagnostic
from specc.ir import pprint
from specc.passes.analyse import Analysis
from specc.passes.memory import Setting
from specc.passes.step_memory import StepMemory, checkpoint_cost, step_memory


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
            trunk = [("stem_conv", None, r.stem.stride), ("stem", None, r.stem.pool.stride)]
        trunk += [(stage.output, stage.index, stage.reduction) for stage in r.stages]
        reduction = 1
        last_at: dict[int, Endpoint] = {}
        for module, stage, stride in trunk:
            reduction *= stride
            last_at[reduction] = Endpoint(module, stage, reduction, self.shape_of(module))
        return [last_at[key] for key in sorted(last_at) if key > 1]

    def ir_text(self) -> str:
        """The IR as stable text (`specc show --ir`; see `specc.ir.pprint`)."""
        labels = {stage.index: stage.label for stage in self.resolved.stages}
        return pprint.dump(self.graph, labels.__getitem__)

    # Training memory (specc.passes.memory, specc.passes.step_memory).

    @property
    def train_batch(self) -> int:
        """train.yaml's batch (images per process)."""
        return int(self.resolved.training.get("batch_size", 128))

    def train_precision(self) -> str:
        """The recipe's compute precision on a GPU: its autocast dtype, or float32."""
        training = self.resolved.training
        return (
            str(training.get("amp_dtype", "bfloat16")) if training.get("amp", True) else "float32"
        )

    def step_memory(
        self,
        precision: str | None = None,
        *,
        grad_checkpointing: bool | None = None,
        device: str = "cuda",
    ) -> StepMemory:
        """Predicted memory of a training step under train.yaml's recipe (optimiser, EMA,
        checkpointing), in `precision` (default: the recipe's autocast dtype)."""
        training = self.resolved.training
        if grad_checkpointing is None:
            grad_checkpointing = bool(training.get("grad_checkpointing", False))
        setting = Setting(precision or self.train_precision(), device, grad_checkpointing)
        return step_memory(
            self.graph,
            self.params,
            setting,
            optimiser=str(training.get("opt", "rmsproptf")),
            momentum=float(training.get("momentum", 0.9)),
            ema=bool(training.get("model_ema", True)),
            same_padding=self.resolved.defaults.padding == "same",
        )

    def checkpoint_cost(self) -> float:
        """Gradient checkpointing's extra compute per step, a fraction of a step."""
        return checkpoint_cost(self.graph)

    def train_memory(self) -> dict[str, Any]:
        """architecture.json's `train_memory`: saved activations per image (float32 and
        the autocast dtypes, without checkpointing), the recipe's step at train.yaml's
        batch, and the same with gradient checkpointing. Bytes."""
        return record.train_memory(self)

    # architecture.json and its parts: one schema, written by `specc.build.record`.

    def stage_rows(self) -> list[dict[str, Any]]:
        return record.stage_rows(self)

    def layer_rows(self) -> list[dict[str, Any]]:
        return record.layer_rows(self)

    def totals(self) -> dict[str, int]:
        return record.totals(self)

    def to_dict(self, *, layers: bool = True) -> dict[str, Any]:
        """architecture.json; `layers=False` leaves out the per-layer list (and its cost)."""
        return record.record(self, layers=layers)
