"""Pieces of a run beside the training step: the epoch's running totals (kept in
mid-epoch checkpoints so a resumed epoch's row is the whole epoch's), evaluation on val/,
the ranks' weight digests, and the optional TensorBoard log.

Imports torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from specc.diagnostics import UserError
from specc.runtime.train.data import ShardedSampler
from specc.runtime.train.metrics import correct_topk
from specc.runtime.train.setup import Context


@dataclass
class EpochTotals:
    """The current epoch so far: [loss sum, correct, seen, dropped images, seconds].

    `base` is what a checkpoint carried in (the part before a resume); the live part stays
    a device tensor until read, so tracking it costs no synchronisation."""

    base: list[float] = field(default_factory=lambda: [0.0] * 5)
    live: torch.Tensor | None = None  # loss sum, correct, seen of this process since start
    live_dropped: int = 0
    live_seconds: float = 0.0

    def track(self, totals: torch.Tensor, dropped: int, seconds: float) -> None:
        self.live, self.live_dropped, self.live_seconds = totals, dropped, seconds

    def values(self) -> list[float]:
        live = self.live.cpu().tolist() if self.live is not None else [0.0] * 3
        extra = [*live, float(self.live_dropped), self.live_seconds]
        return [a + b for a, b in zip(self.base, extra, strict=True)]

    @property
    def seen(self) -> float:
        return self.values()[2]

    @property
    def seconds(self) -> float:
        return self.values()[4]

    def counts(self) -> torch.Tensor:
        """loss sum, correct, seen, dropped (float64, for all-reduce)."""
        return torch.tensor(self.values()[:4], dtype=torch.float64)

    def rate(self) -> float:
        """Images per second over the epoch's training steps."""
        values = self.values()
        return values[2] / values[4] if values[4] > 0 else 0.0

    def as_list(self) -> list[float]:
        return self.values()

    @classmethod
    def from_list(cls, values: list[float] | None) -> EpochTotals:
        return cls(base=[float(v) for v in values]) if values else cls()


def require_tensorboard() -> None:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise UserError("--log tensorboard needs tensorboard: pip install tensorboard")


def open_tensorboard(out: Path) -> Any:
    from specc.runtime.train.metrics import TensorBoardLog

    return TensorBoardLog(out)


@torch.no_grad()
def evaluate(run: Any, model: nn.Module) -> tuple[float, float]:
    """(top-1, top-5) of `model` on the run's val/ set, over every rank's share."""
    assert run.val_set is not None
    model.eval()
    ctx: Context = run.ctx
    sampler = ShardedSampler(len(run.val_set), ctx.rank, ctx.world, 0, False, False)
    loader = DataLoader(
        run.val_set,
        batch_size=run.cfg.batch_size,
        sampler=sampler,
        num_workers=run.cfg.workers,
        generator=torch.Generator(),
    )
    counts = torch.zeros(3, dtype=torch.float64)
    for inputs, labels in loader:
        keep = labels >= 0
        inputs, labels = inputs[keep].to(ctx.device), labels[keep].to(ctx.device)
        with torch.autocast(ctx.device.type, dtype=run.dtype, enabled=run.amp):
            logits = model(inputs)
        counts += torch.tensor(
            [correct_topk(logits, labels, 1), correct_topk(logits, labels, 5), len(labels)]
        )
    if ctx.world > 1:
        dist.all_reduce(counts)
    model.train()
    seen = max(counts[2].item(), 1)
    return counts[0].item() / seen, counts[1].item() / seen


def record_rank_digests(model: nn.Module, ctx: Context, out: Path) -> None:
    """Every rank's parameter digest, gathered into ranks.json: DDP replicas must agree.

    Parameters only: BatchNorm running statistics are per-rank (each rank's forward
    updates them from its own batch) unless sync_bn is on."""
    digest = hashlib.sha256()
    for tensor in model.parameters():
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    digests: list[Any] = [digest.hexdigest()]
    if ctx.world > 1:
        digests = [None] * ctx.world
        dist.all_gather_object(digests, digest.hexdigest())
    if ctx.main:
        (out / "ranks.json").write_text(json.dumps({"weights_sha256": digests}, indent=2) + "\n")
