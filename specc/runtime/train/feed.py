"""Feeding a run: the sharded, resumable order of the training set, as device batches.

The sampler shuffles with (seed, epoch) and can start mid-epoch, so a resumed run sees
exactly the batches the interrupted one would have seen. Synthetic data is one random
batch made once and kept on the device.

Imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from specc.diagnostics import UserError
from specc.runtime.train.config import TrainConfig
from specc.runtime.train.data import ShardedSampler, SyntheticSet
from specc.runtime.train.setup import Context


class Feed:
    def __init__(self, cfg: TrainConfig, ctx: Context, train_set: Any) -> None:
        self.cfg, self.ctx, self.train_set = cfg, ctx, train_set
        self.sampler = ShardedSampler(len(train_set), ctx.rank, ctx.world, cfg.seed, True, True)
        self.steps_per_epoch = self.sampler.per_rank() // cfg.batch_size
        if self.steps_per_epoch == 0:
            raise UserError(
                f"batch size {cfg.batch_size} is larger than the {self.sampler.per_rank()} "
                "training images each process gets; pass a smaller --batch-size"
            )
        self.synthetic: tuple[torch.Tensor, torch.Tensor] | None = None

    def loader(self, epoch: int, skip_batches: int) -> DataLoader[Any]:
        self.sampler.set_epoch(epoch, skip_batches * self.cfg.batch_size)
        cuda = self.ctx.device.type == "cuda"
        # The loader draws its worker seed from this generator, not from the global one that
        # augmentation and dropout use, so creating it mid-epoch on resume changes nothing.
        seed = self.cfg.seed + 1000 * self.ctx.rank + epoch
        return DataLoader(
            self.train_set,
            batch_size=self.cfg.batch_size,
            sampler=self.sampler,
            num_workers=self.cfg.workers,
            pin_memory=self.cfg.pin_mem and cuda,
            drop_last=True,
            generator=torch.Generator().manual_seed(seed),
        )

    def batches(self, epoch: int, skip: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        """(inputs, labels, unreadable images dropped) on the device, for the rest of
        `epoch` after its first `skip` batches."""
        if isinstance(self.train_set, SyntheticSet):
            # Throughput runs: one random batch, made once and kept on the device, so that
            # the model and the trainer are measured, not the input pipeline.
            if self.synthetic is None:
                inputs, labels = self.train_set.batch(self.cfg.batch_size)
                self.synthetic = self.to_device(inputs, labels)
            for _ in range(self.steps_per_epoch - skip):
                yield (*self.synthetic, 0)
            return
        for inputs, labels in self.loader(epoch, skip):
            keep = labels >= 0  # on the CPU: no device synchronisation
            dropped = len(labels) - int(keep.sum())
            if dropped:
                inputs, labels = inputs[keep], labels[keep]
            yield (*self.to_device(inputs, labels), dropped)

    def to_device(
        self, inputs: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = inputs.to(self.ctx.device, non_blocking=True)
        if self.cfg.channels_last and self.ctx.device.type == "cuda":
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return inputs, labels.to(self.ctx.device, non_blocking=True)
