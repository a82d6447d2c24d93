"""Peak memory of one training step, predicted from the IR: the saved activations
(`specc.passes.memory`, exact against PyTorch) plus what every step holds besides them.

    peak(batch) = weights + gradients + optimiser state + EMA copy + per-step saved tensors
                  + batch x (saved activations + largest transient) per image

- weights: fp32 parameters and buffers (batch-norm running mean and variance, the int64
  batch counter); gradients: one fp32 tensor per parameter (autocast keeps fp32 master
  weights and gradients);
- optimiser state: TF RMSProp (`rmsproptf`) two buffers per parameter (square average and
  momentum), SGD with momentum one, AdamW two;
- EMA: a full fp32 copy of parameters and buffers (`model_ema`);
- largest transient: in the backward pass the gradient of the largest activation and of
  its input exist at once (two tensors of the largest activation's size, in the compute
  precision); under checkpointing, also what the largest stage saves while recomputed.

Only the saved activations are measured exactly (`benchmarks/train_memory.py`); the
transient is an estimate of the allocator's high-water mark, and framework overhead
(cuDNN workspaces, the CUDA context, allocator fragmentation) is not counted.
No torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

import networkx as nx

from specc.ir.nodes import Input, Norm
from specc.passes.memory import BYTES, SavedBytes, Setting, recompute_bytes, saved_bytes

OPTIMISER_BUFFERS = {"rmsproptf": 2, "sgd": 1, "adamw": 2}


@dataclass(frozen=True)
class StepMemory:
    """The parts of a training step's peak memory, in bytes: fixed ones, and per image."""

    setting: Setting
    weights: int
    gradients: int
    optimiser: int
    ema: int
    saved: SavedBytes  # activations autograd keeps for backward
    transient_per_image: int
    recompute: SavedBytes  # checkpointing: a stage's saved bytes during its recompute

    @property
    def fixed(self) -> int:
        """Bytes that do not grow with the batch."""
        return (
            self.weights + self.gradients + self.optimiser + self.ema
            + self.saved.per_step + self.recompute.per_step
        )  # fmt: skip

    @property
    def per_image(self) -> int:
        """Bytes each image of the batch adds to the peak."""
        return self.saved.per_image + self.transient_per_image + self.recompute.per_image

    def peak(self, batch: int) -> int:
        """Predicted peak bytes of a step at `batch` images."""
        return self.fixed + self.per_image * batch

    def max_batch(self, budget: int) -> int:
        """The largest batch whose predicted peak fits `budget` bytes (0: none fits)."""
        if budget < self.fixed + self.per_image:
            return 0
        return (budget - self.fixed) // self.per_image

    def to_dict(self, batch: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "precision": self.setting.precision,
            "grad_checkpointing": self.setting.grad_checkpointing,
            "weights": self.weights,
            "gradients": self.gradients,
            "optimiser_state": self.optimiser,
            "ema": self.ema,
            "saved_per_image": self.saved.per_image,
            "saved_per_step": self.saved.per_step,
            "transient_per_image": self.transient_per_image,
            "recompute_per_image": self.recompute.per_image,
            "fixed": self.fixed,
            "per_image": self.per_image,
        }
        if batch is not None:
            out["batch"] = batch
            out["peak"] = self.peak(batch)
        return out


def buffer_bytes(graph: nx.DiGraph) -> int:
    """Batch-norm running mean and variance (fp32) and the int64 batch counter."""
    total = 0
    for _node, data in graph.nodes(data=True):
        op = data["op"]
        if isinstance(op, Norm) and op.kind == "batchnorm":
            total += 2 * data["shape"][0] * 4 + 8
    return total


def largest_activation(graph: nx.DiGraph) -> int:
    """Elements of the largest tensor a node outputs, per image."""
    return max(
        (prod(d["shape"]) for _n, d in graph.nodes(data=True) if not isinstance(d["op"], Input)),
        default=0,
    )


def step_memory(
    graph: nx.DiGraph,
    params: int,
    setting: Setting,
    *,
    optimiser: str = "rmsproptf",
    momentum: float = 0.9,
    ema: bool = True,
    same_padding: bool = False,
) -> StepMemory:
    """The predicted memory of a training step of the network `graph` with `params`
    trainable parameters (fp32), trained with `optimiser` (rmsproptf, sgd, adamw)."""
    if optimiser not in OPTIMISER_BUFFERS:
        raise ValueError(f"unknown optimiser {optimiser!r}: {', '.join(OPTIMISER_BUFFERS)}")
    buffers = OPTIMISER_BUFFERS[optimiser] if optimiser != "sgd" or momentum > 0 else 0
    weights = params * 4 + buffer_bytes(graph)
    compute = BYTES[setting.precision]
    no_recompute = SavedBytes(0, 0)
    return StepMemory(
        setting=setting,
        weights=weights,
        gradients=params * 4,
        optimiser=buffers * params * 4,
        ema=weights if ema else 0,
        saved=saved_bytes(graph, setting, same_padding=same_padding),
        transient_per_image=2 * largest_activation(graph) * compute,
        recompute=(
            recompute_bytes(graph, setting, same_padding=same_padding)
            if setting.grad_checkpointing
            else no_recompute
        ),
    )


def checkpoint_cost(graph: nx.DiGraph) -> float:
    """Extra compute of gradient checkpointing per step, as a fraction of a step without
    it: one more forward of the stages, with backward counted as twice the forward
    (a step = 3 forwards' MACs)."""
    total = stages = 0
    for _node, data in graph.nodes(data=True):
        macs = int(data.get("macs", 0))
        total += macs
        if data["scope"].part == "stage":
            stages += macs
    return stages / (3 * total) if total else 0.0
