"""Setting up a training run: processes and devices, the model, the data, the optimiser.

Everything here runs once before the first step; the loop itself is `specc.runtime.train.trainer`.
Problems a user can fix raise `UserError` (or `UserError` from `specc.runtime.train.data`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from specc.build.lock import owned
from specc.diagnostics import UserError
from specc.runtime.files import require_writable, sweep_temporaries
from specc.runtime.machine import require_input_fits
from specc.runtime.train.config import TrainConfig
from specc.runtime.train.data import ArraySet, ImageFolderSet, SyntheticSet, transforms
from specc.runtime.train.folders import check_image_folder
from specc.runtime.train.precheck import RUN_FILES as RUN_FILES  # re-exported
from specc.runtime.train.precheck import TrainOptions
from specc.tools.arrays import is_npz, read_npz


@contextmanager
def own_run_folder(out: Path) -> Iterator[None]:
    """Rank 0's hold on the run folder for the whole run: one writer (a lock beside it,
    `.<name>.lock`; a second run is refused naming the first one's pid), checked writable
    before any work, and the temporaries a killed run left (`.last.pt.XXXXXXXX.tmp`)
    removed."""
    require_writable(out, "run folder")
    with owned(out.parent / f".{out.name}.lock", f"run folder {out}"):
        for name in ("last.pt", "best.pt"):
            sweep_temporaries(out / name)
        yield


@dataclass
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup() -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
    else:
        device = torch.device("cpu")
        if rank == 0:
            print("warning: no GPU found; training on the CPU (slow, fp32)", file=sys.stderr)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world, device)


def build_model(cfg: TrainConfig, folder: Path, ctx: Context) -> nn.Module:
    """The network of the config's own generated folder (never another file: a train.yaml
    runs only the model.py beside it), with the config's constructor arguments."""
    from specc.runtime.model import MODEL_FILE, model_class, open_folder
    from specc.runtime.train.preflight import constructor_kwargs

    if cfg.model != MODEL_FILE:
        raise UserError(
            f"{folder / 'train.yaml'}: model: {cfg.model!r}: a training config runs the "
            f"{MODEL_FILE} of its own generated folder",
            hint=f"set `model: {MODEL_FILE}` (or rebuild the folder with specc build)",
        )
    opened = open_folder(folder)
    cls = model_class(opened)
    if cls.__name__ != cfg.model_class:
        raise UserError(
            f"{opened.source} defines {cls.__name__}, not {cfg.model_class} (the config's "
            "`model_class`)"
        )
    kwargs = constructor_kwargs(cls, cfg, str(opened.source))
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    model: nn.Module = cls(**kwargs)
    if cfg.grad_checkpointing:
        if not hasattr(model, "set_grad_checkpointing"):
            raise UserError(
                f"{folder / 'train.yaml'}: grad_checkpointing: {opened.source} predates "
                "gradient checkpointing",
                hint="rebuild the folder with specc build",
            )
        getattr(model, "set_grad_checkpointing")(True)  # noqa: B009 (a generated method)
    if cfg.sync_bn and ctx.world > 1:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]
    if cfg.channels_last and ctx.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload,unused-ignore]
    return model.to(ctx.device)


def check_batch_memory(cfg: TrainConfig) -> None:
    """Refuse a batch whose input tensor alone would take more than half of this machine's
    memory: the OOM killer would end the run with no message."""
    require_input_fits(
        cfg.batch_size,
        (cfg.in_chans, cfg.img_size, cfg.img_size),
        f"batch_size {cfg.batch_size} at {cfg.img_size} px",
        "pass a smaller --batch-size (or --set img_size=...)",
    )


def build_data(cfg: TrainConfig, options: TrainOptions, ctx: Context) -> tuple[Any, Any, int]:
    """(train dataset, val dataset or None, number of classes in the data)."""
    check_batch_memory(cfg)
    source = options.data or cfg.data_dir
    if source is None:
        raise UserError(
            "no data: pass --data DIR (ImageFolder), --data FILE.npz or --data synthetic"
        )
    if source == "synthetic":
        return (
            SyntheticSet(options.synthetic_images, cfg.img_size, cfg.num_classes, cfg.in_chans),
            None,
            cfg.num_classes,
        )
    if is_npz(source):
        arrays = read_npz(Path(source), num_classes=cfg.num_classes, channels=cfg.in_chans)
        val_set = None if arrays.val is None else ArraySet(*_pair(arrays.val), cfg, False)
        return ArraySet(*_pair(arrays.train), cfg, True), val_set, cfg.num_classes
    root = Path(source)
    classes = check_image_folder(root)
    if len(classes) != cfg.num_classes:
        raise UserError(
            f"{root} has {len(classes)} classes but the model has {cfg.num_classes} outputs: "
            f"rebuild it with --set num_classes={len(classes)}"
        )
    train = ImageFolderSet(root / "train", transforms(cfg, True), cfg.img_size, cfg.in_chans)
    val = None
    if (root / "val").is_dir():
        val = ImageFolderSet(root / "val", transforms(cfg, False), cfg.img_size, cfg.in_chans)
    return train, val, len(classes)


def _pair(split: Any) -> tuple[Any, Any]:
    return split.images, split.labels


def build_optimizer(cfg: TrainConfig, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    from specc.runtime.train.optim import RMSpropTF, param_groups

    groups = param_groups(model, cfg.weight_decay)
    if cfg.opt == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
    return RMSpropTF(groups, lr=lr, decay=cfg.opt_decay, momentum=cfg.momentum, eps=cfg.opt_eps)


def build_scheduler(
    cfg: TrainConfig, optimizer: torch.optim.Optimizer, lr: float, steps_per_epoch: int
) -> Any:
    """The per-step schedule of train.yaml's `sched`: `step` (the EfficientNet recipe's
    staircase decay) or `cosine` (to `min_lr` at the last step), both after the warm-up."""
    from specc.runtime.train.schedule import WarmupCosine, WarmupExponential

    if cfg.sched == "cosine":
        return WarmupCosine(
            optimizer,
            base_lr=lr,
            steps_per_epoch=steps_per_epoch,
            total_steps=cfg.epochs * steps_per_epoch,
            warmup_epochs=cfg.warmup_epochs,
            min_lr=cfg.min_lr,
        )
    return WarmupExponential(
        optimizer,
        base_lr=lr,
        steps_per_epoch=steps_per_epoch,
        warmup_epochs=cfg.warmup_epochs,
        decay_rate=cfg.decay_rate,
        decay_epochs=cfg.decay_epochs,
    )


def load_initial(model: nn.Module, path: Path) -> list[str]:
    """`--initial-checkpoint`: a specc state dict or training checkpoint of this model
    loads as is; torchvision/timm weights are imported by structure (a classifier of
    another size stays fresh, the stem adapts to in_chans). Returns the report lines."""
    from specc.runtime.model import read_weights
    from specc.runtime.weights import import_weights

    source = read_weights(path)
    own = model.state_dict()
    if list(source) == list(own) and all(source[k].shape == own[k].shape for k in own):
        model.load_state_dict(source, strict=True)
        return [f"initial weights: {path} ({len(source)} tensors)"]
    try:
        report = import_weights(model, source)
    except UserError as error:
        message = f"--initial-checkpoint {path} does not fit the model"
        raise UserError(message, details=error.details) from None
    return [f"initial weights: {report.tensors} tensors imported from {path}", *report.lines()]
