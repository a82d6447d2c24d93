"""The trainer: runs a generated folder's train.yaml on a GPU, several GPUs, or the CPU.

One process per device (torchrun sets RANK/WORLD_SIZE/LOCAL_RANK); DistributedDataParallel
over NCCL on GPUs or gloo on the CPU; rank 0 alone writes logs and checkpoints. Each step:
autocast forward (CUDA only), label-smoothed cross-entropy, backward, optimiser step,
per-step LR schedule, EMA update. Each epoch: top-1/top-5 of the raw and the EMA weights on
val/, metrics to JSONL and CSV, `last.pt` and, when eval top-1 improves, `best.pt`.

Everything that makes a run stop early is a `UserError` with a message a user can act on.
Construction (devices, model, data, optimiser) lives in `specc.runtime.train.setup`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from specc.diagnostics import Interrupted, UserError
from specc.runtime.files import is_write_failure, write_failure
from specc.runtime.train import checkpoint
from specc.runtime.train.config import TrainConfig, load_config
from specc.runtime.train.evaluate import (
    EpochTotals,
    evaluate,
    open_tensorboard,
    record_rank_digests,
    require_tensorboard,
)
from specc.runtime.train.feed import Feed
from specc.runtime.train.metrics import MetricsLog, StepProgress
from specc.runtime.train.precheck import (
    Checked,
    TrainOptions,
    continue_command,
    flag_overrides,
    precheck,
    resume_path,
    run_record,
    with_record,
)
from specc.runtime.train.preflight import preflight, step_failure
from specc.runtime.train.setup import (
    Context,
    build_data,
    build_model,
    build_optimizer,
    build_scheduler,
    load_initial,
    own_run_folder,
    setup,
)
from specc.runtime.train.signals import StopSignals


@dataclass
class Progress:
    epoch: int = 0
    step: int = 0
    best: float = -math.inf
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False  # by --max-steps, mid-run


def train(options: TrainOptions, checked: Checked | None = None) -> Progress:
    """Run (or resume) a training run; returns what happened. `checked`: what `precheck`
    found, when the caller (the CLI, before importing torch) has run it.

    Raises UserError (or SpecError for the config) with a message a user can act on, and
    Interrupted after SIGINT/SIGTERM once the checkpoint is written."""
    checked = checked or precheck(options)
    options, cfg, out, replaced = checked.options, checked.cfg, checked.out, checked.replaced
    if options.resume:  # the run's own flags, as its checkpoint recorded them
        options = with_record(options, checkpoint.run_record(resume_path(options, out)))
        cfg = load_config(options.config, flag_overrides(options), options.settings)
    ctx = setup()
    folder = options.config.parent
    replaced = replaced if ctx.main else []
    with own_run_folder(out) if ctx.main else contextlib.nullcontext():
        try:
            run = Run(cfg, options, ctx, folder, out)  # writes nothing: a refused run, no trace
            if ctx.main:
                for path in replaced:
                    path.unlink()
                out.mkdir(parents=True, exist_ok=True)
            state = run.fit()
        except torch.cuda.OutOfMemoryError:
            raise UserError(out_of_memory_message(cfg, folder)) from None
        except (OSError, RuntimeError) as exc:
            if not is_write_failure(exc):
                raise
            raise write_failure(out, exc) from None
    del run
    shutdown()
    return state


def out_of_memory_message(cfg: Any, folder: Path) -> str:
    """What a CUDA out-of-memory error tells: the batch, specc's predicted peak at it (from
    architecture.json's `train_memory`, built at train.yaml's recipe) and the largest batch
    predicted to fit this GPU; half the batch where there is no prediction."""
    text = f"CUDA out of memory at batch size {cfg.batch_size} per process and {cfg.img_size}px"
    try:
        record = json.loads((folder / "architecture.json").read_text(encoding="utf-8"))
        key = "with_checkpointing" if cfg.grad_checkpointing else "without_checkpointing"
        step = record["train_memory"][key]
        fixed, per_image = int(step["fixed"]), int(step["per_image"])
        total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, AssertionError):
        return f"{text}; try --batch-size {max(1, cfg.batch_size // 2)}"
    from specc.lang.sizes import format_bytes

    peak = fixed + per_image * cfg.batch_size
    fits = max(1, (total - fixed) // per_image) if total > fixed + per_image else 1
    hint = "" if cfg.grad_checkpointing else " or set grad_checkpointing: true in train.yaml"
    return (
        f"{text}; specc predicts a peak of {format_bytes(peak)} there "
        f"({format_bytes(per_image)} per image + {format_bytes(fixed)}), and this GPU has "
        f"{format_bytes(total)}: try --batch-size {fits}{hint}"
    )


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
        from specc.runtime.train.ema import ModelEma

        self.cfg, self.options, self.ctx, self.out = cfg, options, ctx, out
        self.model = build_model(cfg, folder, ctx)
        self.notes: list[str] = []
        if options.initial_checkpoint is not None and not options.resume:
            self.notes += load_initial(self.model, options.initial_checkpoint)
        built = f"{cfg.spec.name} {cfg.spec.selector} (spec sha256 {cfg.spec.sha256[:12]})"
        self.identity = checkpoint.identity(self.model, cfg.recipe(), built)
        torch.manual_seed(cfg.seed + 1000 * ctx.rank)  # data order and dropout differ per rank
        self.train_set, self.val_set, self.classes = build_data(cfg, options, ctx)
        self.check_before_training()
        self.feed = Feed(cfg, ctx, self.train_set)
        self.steps_per_epoch = self.feed.steps_per_epoch
        self.lr = cfg.lr_base * cfg.batch_size * ctx.world / cfg.lr_base_size
        self.optimizer = build_optimizer(cfg, self.model, self.lr)
        self.scheduler = build_scheduler(cfg, self.optimizer, self.lr, self.steps_per_epoch)
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
        self.best_by = "ema" if self.ema is not None and cfg.best_weights() == "ema" else "eval"
        self.state = Progress()
        self.partial = EpochTotals()  # the current epoch so far (saved in mid-epoch checkpoints)
        self.log = MetricsLog(out)
        self.tensorboard: Any = None  # opened by fit(), once the run folder exists
        if options.log == "tensorboard":
            require_tensorboard()
        self.signals = StopSignals()

    def check_before_training(self) -> None:
        """One image through the model before step 1 (see `specc.runtime.train.preflight`)."""
        if self.cfg.img_size != getattr(self.cfg.built, "img_size", self.cfg.img_size):
            built = self.cfg.built.img_size  # type: ignore[union-attr]
            self.notes.append(
                f"training at {self.cfg.img_size} px (model.py was built for {built})"
            )
        probe = getattr(self.train_set, "first_readable", lambda: self.train_set[0])
        preflight(self.model, self.cfg, probe()[0], self.classes)

    # --- checkpoints ----------------------------------------------------------------------

    def save(self, name: str) -> Path:
        path = self.out / name
        if not self.ctx.main:
            return path
        checkpoint.save(
            path,
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
                "partial": self.partial.as_list(),
                "rng": checkpoint.rng_state(),
                "run": run_record(self.options),
                "best_by": "ema" if self.best_by == "ema" else "raw",
            },
        )
        return path

    def restore(self) -> str:
        path = resume_path(self.options, self.out)
        state = checkpoint.load(path, self.identity)
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
        # The epoch's totals before the stop are rank 0's; with several processes its share
        # stands for all of them (an estimate: the row's loss and accuracy, not the weights).
        partial = state.get("partial") or [0.0] * 5
        share = [v * self.ctx.world for v in partial[:4]] + partial[4:]
        self.partial = EpochTotals.from_list(share if self.ctx.main else None)
        if self.ctx.world == 1:
            checkpoint.restore_rng(state["rng"])
        else:  # only rank 0's generator was saved; the others restart from a known seed
            torch.manual_seed(self.cfg.seed + 1000 * self.ctx.rank + self.state.step)
        if self.ctx.main:  # a kill between an epoch's row and its checkpoint: drop the row
            self.log.keep_before(self.state.epoch)
        return f"resumed from {path} at epoch {self.state.epoch} step {self.state.step}"

    # --- the loop -------------------------------------------------------------------------

    def fit(self) -> Progress:
        if self.options.log == "tensorboard" and self.ctx.main:
            self.tensorboard = open_tensorboard(self.out)
        if self.options.resume:
            self.notes.append(self.restore())
        limit = self.options.max_steps
        total = self.cfg.epochs * self.steps_per_epoch
        total = min(total, limit) if limit is not None else total
        self.progress = StepProgress(self.ctx.main, self.cfg.log_interval, total, self.state.step)
        for line in self.header():  # before the progress bar starts
            self.progress.line(line)
        with self.progress, self.signals:
            while self.state.epoch < self.cfg.epochs and not self.state.stopped:
                self.state.stopped = self.train_epoch(limit)
                if self.signalled():
                    self.interrupt()
            if self.state.stopped and self.partial.seen:
                self.save("last.pt")
        self.record_rank_digests()
        return self.state

    def header(self) -> list[str]:
        """The first lines of a run: where it writes, on what, from which data."""
        data = self.options.data or self.cfg.data_dir
        val = f", {len(self.val_set)} for validation" if self.val_set is not None else ""
        return [
            f"run folder {self.out}",
            f"device {self.ctx.device}" + (f" x {self.ctx.world}" if self.ctx.world > 1 else ""),
            f"data {data}: {len(self.train_set)} training images, {self.classes} classes{val}",
            *_scan_notes(self.train_set, self.val_set),
            *self.notes,
            *self.best_note(),
        ]

    def best_note(self) -> list[str]:
        if self.val_set is None:
            return ["best.pt: by the train top-1 (no val/)"]
        if self.best_by == "ema":
            return ["best.pt: by the EMA weights' val top-1 (best_by: ema; load: ema=True)"]
        return ["best.pt: by the raw weights' val top-1 (best_by: raw)"]

    def signalled(self) -> bool:
        """Whether to stop for a signal now. Several processes must stop after the same step,
        so they agree (an all-reduce) every `log_interval` steps and at epoch ends, not
        every step, which would synchronise the device each step."""
        if self.ctx.world == 1:
            return self.signals.received is not None
        at_epoch_end = self.state.step % self.steps_per_epoch == 0
        if self.state.step % self.cfg.log_interval and not at_epoch_end:
            return False
        flag = torch.tensor([float(self.signals.received or 0)], device=self.ctx.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() and self.signals.received is None:
            self.signals.received = int(flag.item())
        return bool(flag.item())

    def interrupt(self) -> None:
        """After SIGINT/SIGTERM: the step is finished; checkpoint, say how to go on, exit."""
        path = self.save("last.pt")
        command = continue_command(self.options, self.out)
        raise Interrupted(
            f"{self.signals.name} at epoch {self.state.epoch} step {self.state.step}: "
            f"checkpoint written to {path}; continue with: {command}",
            self.signals.exit_code,
        )

    def train_epoch(self, limit: int | None) -> bool:
        """Train the rest of the current epoch; True when --max-steps stopped the run.

        A run whose limit falls on the epoch's last step finishes the epoch (its row and
        checkpoints), so a resumed run never records an empty epoch."""
        done_in_epoch = self.state.step - self.state.epoch * self.steps_per_epoch
        self.net.train()
        # Sums stay on the device: reading them every step would synchronise every step.
        totals = torch.zeros(3, dtype=torch.float64, device=self.ctx.device)  # loss, correct, seen
        started, images, dropped = time.perf_counter(), 0, 0
        every = self.options.checkpoint_every
        batches = self.signals.waiting(
            self.feed.batches(self.state.epoch, done_in_epoch), enabled=self.ctx.world == 1
        )
        for inputs, labels, skipped in batches:
            if len(labels):
                loss, logits = self.guarded_step(inputs, labels)
                correct = (logits.argmax(dim=1) == labels).sum()
                totals += torch.stack([loss * len(labels), correct, totals.new_tensor(len(labels))])
            else:  # every image of the batch was unreadable: no step on nothing
                loss = totals.new_tensor(math.nan)
                with warnings.catch_warnings():  # the schedule keeps counting steps
                    warnings.simplefilter("ignore", UserWarning)
                    self.scheduler.step()
            images, dropped = images + len(labels), dropped + skipped
            self.state.step += 1
            self.partial.track(totals, dropped, time.perf_counter() - started)
            self.report_step(loss, images / (time.perf_counter() - started))
            at_epoch_end = self.state.step % self.steps_per_epoch == 0
            if not at_epoch_end and self.signalled():
                return False
            if limit is not None and self.state.step >= limit and not at_epoch_end:
                return True
            if every is not None and self.state.step % every == 0 and not at_epoch_end:
                self.save("last.pt")
        if self.signals.cut_short:  # a signal while waiting for data: stop after this step
            return False
        self.end_epoch(self.partial.counts(), self.partial.rate())
        return limit is not None and self.state.step >= limit

    def guarded_step(
        self, inputs: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`step`, with any exception but running out of memory turned into a message
        naming the step and, where the traceback shows it, the layer."""
        try:
            return self.step(inputs, labels)
        except torch.cuda.OutOfMemoryError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError, ZeroDivisionError) as exc:
            message = step_failure(self.model, exc, self.state.step + 1, self.state.epoch)
            raise UserError(message) from None

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

    def end_epoch(self, totals: torch.Tensor, rate: float) -> None:
        """The epoch's row, then best.pt (when it improved), then last.pt: a kill between
        any two leaves a checkpoint from which the resumed run redoes what was lost."""
        if self.ctx.world > 1:
            totals = totals.to(self.ctx.device)
            dist.all_reduce(totals)
        loss_sum, correct, seen, skipped = totals.cpu().tolist()
        if seen == 0:  # nothing usable: no row, no checkpoint that looks like a result
            data = self.options.data or self.cfg.data_dir
            raise UserError(
                f"epoch {self.state.epoch}: none of its {int(skipped)} training images "
                f"could be read; nothing was learnt (data {data})",
                hint="check the image files; specc skips unreadable ones and counts them",
            )
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
            row["eval_top1"], row["eval_top5"] = evaluate(self, self.model)
            if self.ema is not None:
                row["ema_top1"], row["ema_top5"] = evaluate(self, self.ema.module)
        row["seconds"] = self.partial.seconds
        if self.ctx.device.type == "cuda":
            row["peak_memory_gib"] = torch.cuda.max_memory_allocated(self.ctx.device) / 2**30
        self.state.epoch += 1
        self.partial = EpochTotals()
        score = row.get(f"{self.best_by}_top1", row.get("eval_top1", row["train_top1"]))
        improved = score > self.state.best
        self.state.best = max(self.state.best, score)
        self.state.history.append(row)
        if self.ctx.main:
            self.log.append(row)
            if self.tensorboard is not None:
                self.tensorboard.append(row)
            self.progress.line(_epoch_line(row))
            if improved:
                self.save("best.pt")
            self.save("last.pt")

    def record_rank_digests(self) -> None:
        record_rank_digests(self.model, self.ctx, self.out)


def _scan_notes(*sets: Any) -> list[str]:
    """What finding the images skipped (special files, link loops), per folder."""
    notes = []
    for data in sets:
        scan = getattr(data, "scan", None)
        if scan is not None and scan.skipped:
            notes.append(f"skipped in {data.root}: {scan.skipped_text()}")
    return notes


def _epoch_line(row: dict[str, Any]) -> str:
    text = (
        f"epoch {row['epoch']} step {row['step']}: loss {row['train_loss']:.4f}, "
        f"train top-1 {row['train_top1']:.3f}, lr {row['lr']:.5g}, "
        f"{row['images_per_s']:.1f} img/s, {row['seconds']:.1f} s"
    )
    if "eval_top1" in row:
        text += f", eval top-1 {row['eval_top1']:.3f} top-5 {row['eval_top5']:.3f}"
    if "ema_top1" in row:
        text += f", EMA top-1 {row['ema_top1']:.3f}"
    if row.get("skipped_images"):
        text += f", {row['skipped_images']} unreadable images skipped"
    return text
