"""The trainer: runs a generated folder's train.yaml on a GPU, several GPUs, or the CPU.

One process per device (torchrun sets RANK/WORLD_SIZE/LOCAL_RANK); DistributedDataParallel
over NCCL on GPUs or gloo on the CPU; rank 0 alone writes logs and checkpoints. Each step:
autocast forward (CUDA only), label-smoothed cross-entropy, backward, optimiser step,
per-step LR schedule, EMA update. Each epoch: top-1/top-5 of the raw and the EMA weights on
val/, metrics to JSONL and CSV, `last.pt` and, when eval top-1 improves, `best.pt`.

Everything that makes a run stop early is a `TrainError` with a message a user can act on.
Construction (devices, model, data, optimiser) lives in `specc.runtime.setup`.
"""

from __future__ import annotations

import gc
import hashlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from specc.runtime import checkpoint
from specc.runtime.config import TrainConfig, load_config
from specc.runtime.data import DataError, ShardedSampler, SyntheticSet
from specc.runtime.metrics import MetricsLog, StepProgress, correct_topk
from specc.runtime.setup import (
    Context,
    TrainError,
    TrainOptions,
    build_data,
    build_model,
    build_optimizer,
    setup,
)


@dataclass
class Progress:
    epoch: int = 0
    step: int = 0
    best: float = -math.inf
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False  # by --max-steps, mid-run


def train(options: TrainOptions) -> Progress:
    """Run (or resume) a training run; returns what happened."""
    overrides = {
        k: v
        for k, v in (
            ("epochs", options.epochs),
            ("batch_size", options.batch_size),
            ("workers", options.workers),
        )
        if v is not None
    }
    cfg = load_config(options.config, overrides)
    ctx = setup()
    folder = options.config.parent
    out = options.out or folder / "runs" / "train"
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
    try:
        run = Run(cfg, options, ctx, folder, out)
        state = run.fit()
    except DataError as error:
        raise TrainError(str(error)) from None
    except torch.cuda.OutOfMemoryError:
        half = max(1, cfg.batch_size // 2)
        raise TrainError(
            f"CUDA out of memory at batch size {cfg.batch_size} per process and {cfg.img_size}px; "
            f"try --batch-size {half}"
        ) from None
    del run
    shutdown()
    return state


def shutdown() -> None:
    """Leave the process group cleanly, after a successful run only (after a failure the
    other ranks may never arrive, and torchrun ends them).

    DDP's reducer holds the group and gloo's worker threads may still hold work objects:
    both are released, and every rank has arrived, before the group is destroyed; otherwise
    their destructors can run during interpreter shutdown and abort the process."""
    if not dist.is_initialized():
        return
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


class Run:
    """One training run's state; `fit()` drives it."""

    def __init__(
        self, cfg: TrainConfig, options: TrainOptions, ctx: Context, folder: Path, out: Path
    ) -> None:
        from specc.runtime.ema import ModelEma
        from specc.runtime.schedule import WarmupExponential

        self.cfg, self.options, self.ctx, self.out = cfg, options, ctx, out
        self.model = build_model(cfg, folder, ctx)
        self.identity = checkpoint.identity(self.model, cfg.recipe_hash())
        torch.manual_seed(cfg.seed + 1000 * ctx.rank)  # data order and dropout differ per rank
        self.train_set, self.val_set, _ = build_data(cfg, options, ctx)
        self.sampler = ShardedSampler(
            len(self.train_set), ctx.rank, ctx.world, cfg.seed, True, True
        )
        self.steps_per_epoch = self.sampler.per_rank() // cfg.batch_size
        if self.steps_per_epoch == 0:
            raise TrainError(
                f"batch size {cfg.batch_size} is larger than the {self.sampler.per_rank()} "
                "training images each process gets; pass a smaller --batch-size"
            )
        self.lr = cfg.lr_base * cfg.batch_size * ctx.world / cfg.lr_base_size
        self.optimizer = build_optimizer(cfg, self.model, self.lr)
        self.scheduler = WarmupExponential(
            self.optimizer,
            base_lr=self.lr,
            steps_per_epoch=self.steps_per_epoch,
            warmup_epochs=cfg.warmup_epochs,
            decay_rate=cfg.decay_rate,
            decay_epochs=cfg.decay_epochs,
        )
        self.ema = (
            ModelEma(self.model, decay=cfg.model_ema_decay, warmup=cfg.model_ema_warmup)
            if cfg.model_ema
            else None
        )
        cuda = ctx.device.type == "cuda"
        self.amp = cfg.amp and cuda
        self.dtype = torch.bfloat16 if cfg.amp_dtype == "bfloat16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.dtype == torch.float16)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.smoothing)
        self.net: nn.Module = self.model
        if ctx.world > 1:
            ids = [ctx.device.index] if cuda else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if options.compile:
            self.net = torch.compile(self.net, backend=options.compile)  # type: ignore[assignment]
        self.state = Progress()
        self.log = MetricsLog(out)
        self.synthetic: tuple[torch.Tensor, torch.Tensor] | None = None

    # --- checkpoints ----------------------------------------------------------------------

    def save(self, name: str) -> None:
        if not self.ctx.main:
            return
        checkpoint.save(
            self.out / name,
            {
                "identity": self.identity,
                "model": self.model.state_dict(),
                "ema": self.ema.state_dict() if self.ema else None,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "epoch": self.state.epoch,
                "step": self.state.step,
                "best": self.state.best,
                "rng": checkpoint.rng_state(),
            },
        )

    def restore(self, spec: str) -> None:
        path = self.out / "last.pt" if spec == "last" else Path(spec)
        try:
            state = checkpoint.load(path, self.identity)
        except checkpoint.CheckpointError as error:
            raise TrainError(str(error)) from None
        self.model.load_state_dict(state["model"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.state.epoch, self.state.step, self.state.best = (
            state["epoch"],
            state["step"],
            state["best"],
        )
        if self.ctx.world == 1:
            checkpoint.restore_rng(state["rng"])
        else:  # only rank 0's generator was saved; the others restart from a known seed
            torch.manual_seed(self.cfg.seed + 1000 * self.ctx.rank + self.state.step)

    # --- the loop -------------------------------------------------------------------------

    def fit(self) -> Progress:
        if self.options.resume:
            self.restore(self.options.resume)
        limit = self.options.max_steps
        total = self.cfg.epochs * self.steps_per_epoch
        total = min(total, limit) if limit is not None else total
        self.progress = StepProgress(self.ctx.main, self.cfg.log_interval, total, self.state.step)
        with self.progress:
            while self.state.epoch < self.cfg.epochs:
                self.state.stopped = self.train_epoch(limit)
                if self.state.stopped:
                    self.save("last.pt")
                    break
        self.record_rank_digests()
        return self.state

    def loader(self, skip_batches: int) -> DataLoader[Any]:
        self.sampler.set_epoch(self.state.epoch, skip_batches * self.cfg.batch_size)
        cuda = self.ctx.device.type == "cuda"
        # The loader draws its worker seed from this generator, not from the global one that
        # augmentation and dropout use, so creating it mid-epoch on resume changes nothing.
        seed = self.cfg.seed + 1000 * self.ctx.rank + self.state.epoch
        return DataLoader(
            self.train_set,
            batch_size=self.cfg.batch_size,
            sampler=self.sampler,
            num_workers=self.cfg.workers,
            pin_memory=self.cfg.pin_mem and cuda,
            drop_last=True,
            generator=torch.Generator().manual_seed(seed),
        )

    def batches(self, skip: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        """(inputs, labels, unreadable images dropped) on the device, for the rest of the epoch."""
        if isinstance(self.train_set, SyntheticSet):
            # Throughput runs: one random batch, made once and kept on the device, so that
            # the model and the trainer are measured, not the input pipeline.
            if self.synthetic is None:
                inputs, labels = self.train_set.batch(self.cfg.batch_size)
                self.synthetic = self.to_device(inputs, labels)
            for _ in range(self.steps_per_epoch - skip):
                yield (*self.synthetic, 0)
            return
        for inputs, labels in self.loader(skip):
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

    def train_epoch(self, limit: int | None) -> bool:
        """Train the rest of the current epoch; True when stopped by --max-steps."""
        done_in_epoch = self.state.step - self.state.epoch * self.steps_per_epoch
        self.net.train()
        # Sums stay on the device: reading them every step would synchronise every step.
        totals = torch.zeros(3, dtype=torch.float64, device=self.ctx.device)  # loss, correct, seen
        started, images, dropped = time.perf_counter(), 0, 0
        for inputs, labels, skipped in self.batches(done_in_epoch):
            loss, logits = self.step(inputs, labels)
            correct = (logits.argmax(dim=1) == labels).sum()
            totals += torch.stack([loss * len(labels), correct, totals.new_tensor(len(labels))])
            images, dropped = images + len(labels), dropped + skipped
            self.state.step += 1
            self.report_step(loss, images / (time.perf_counter() - started))
            if limit is not None and self.state.step >= limit:
                return True
        counts = torch.cat([totals.cpu(), torch.tensor([float(dropped)], dtype=torch.float64)])
        self.end_epoch(counts, images / (time.perf_counter() - started), started)
        return False

    def step(self, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(self.ctx.device.type, dtype=self.dtype, enabled=self.amp):
            logits = self.net(inputs)
            loss = self.criterion(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return loss.detach(), logits.detach()

    def report_step(self, loss: torch.Tensor, rate: float) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        self.progress.step(self.state.step, self.state.epoch, loss, lr, rate)

    def end_epoch(self, totals: torch.Tensor, rate: float, started: float) -> None:
        if self.ctx.world > 1:
            totals = totals.to(self.ctx.device)
            dist.all_reduce(totals)
        loss_sum, correct, seen, skipped = totals.cpu().tolist()
        row: dict[str, Any] = {
            "epoch": self.state.epoch,
            "step": self.state.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": loss_sum / max(seen, 1),
            "train_top1": correct / max(seen, 1),
            "images_per_s": rate * self.ctx.world,
            "skipped_images": int(skipped),
        }
        if self.val_set is not None:
            row["eval_top1"], row["eval_top5"] = self.evaluate(self.model)
            if self.ema is not None:
                row["ema_top1"], row["ema_top5"] = self.evaluate(self.ema.module)
        row["seconds"] = time.perf_counter() - started
        if self.ctx.device.type == "cuda":
            row["peak_memory_gib"] = torch.cuda.max_memory_allocated(self.ctx.device) / 2**30
        self.state.epoch += 1
        score = row.get("eval_top1", row["train_top1"])
        improved = score > self.state.best
        self.state.best = max(self.state.best, score)
        self.state.history.append(row)
        if self.ctx.main:
            self.log.append(row)
            self.progress.line(_epoch_line(row))
            self.save("last.pt")
            if improved:
                self.save("best.pt")

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        assert self.val_set is not None
        model.eval()
        sampler = ShardedSampler(len(self.val_set), self.ctx.rank, self.ctx.world, 0, False, False)
        loader = DataLoader(
            self.val_set,
            batch_size=self.cfg.batch_size,
            sampler=sampler,
            num_workers=self.cfg.workers,
            generator=torch.Generator(),
        )
        counts = torch.zeros(3, dtype=torch.float64)
        for inputs, labels in loader:
            keep = labels >= 0
            inputs, labels = inputs[keep].to(self.ctx.device), labels[keep].to(self.ctx.device)
            with torch.autocast(self.ctx.device.type, dtype=self.dtype, enabled=self.amp):
                logits = model(inputs)
            counts += torch.tensor(
                [correct_topk(logits, labels, 1), correct_topk(logits, labels, 5), len(labels)]
            )
        if self.ctx.world > 1:
            dist.all_reduce(counts)
        model.train()
        return counts[0].item() / max(counts[2].item(), 1), counts[1].item() / max(
            counts[2].item(), 1
        )

    def record_rank_digests(self) -> None:
        """Every rank's parameter digest, gathered into ranks.json: DDP replicas must agree.

        Parameters only: BatchNorm running statistics are per-rank (each rank's forward
        updates them from its own batch) unless sync_bn is on."""
        digest = hashlib.sha256()
        for tensor in self.model.parameters():
            digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
        digests: list[Any] = [digest.hexdigest()]
        if self.ctx.world > 1:
            digests = [None] * self.ctx.world
            dist.all_gather_object(digests, digest.hexdigest())
        if self.ctx.main:
            import json

            (self.out / "ranks.json").write_text(
                json.dumps({"weights_sha256": digests}, indent=2) + "\n"
            )


def _epoch_line(row: dict[str, Any]) -> str:
    text = (
        f"epoch {row['epoch']}: loss {row['train_loss']:.4f}, "
        f"train top-1 {row['train_top1']:.3f}, {row['images_per_s']:.1f} img/s"
    )
    if "eval_top1" in row:
        text += f", eval top-1 {row['eval_top1']:.3f} top-5 {row['eval_top5']:.3f}"
    if "ema_top1" in row:
        text += f", EMA top-1 {row['ema_top1']:.3f}"
    if row.get("skipped_images"):
        text += f", {row['skipped_images']} unreadable images skipped"
    return text
