"""Setting up a training run: processes and devices, the model, the data, the optimiser.

Everything here runs once before the first step; the loop itself is `specc.runtime.trainer`.
Problems a user can fix raise `TrainError` (or `DataError` from `specc.runtime.data`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from specc.runtime.config import TrainConfig
from specc.runtime.data import ImageFolderSet, SyntheticSet, check_image_folder, transforms


class TrainError(Exception):
    """A run that cannot go on; the message says why and what to do."""


@dataclass
class TrainOptions:
    config: Path
    data: str | None = None  # an ImageFolder root, "synthetic", or None for the config's
    epochs: int | None = None
    max_steps: int | None = None
    out: Path | None = None
    resume: str | None = None  # "last" (OUT/last.pt) or a checkpoint path
    compile: str | None = None  # a torch.compile backend ("inductor"), or None for eager
    batch_size: int | None = None
    workers: int | None = None
    synthetic_images: int = 1024  # per epoch, for --data synthetic


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
    from specc.runtime.module import load_file

    path = folder / cfg.model
    if not path.is_file():
        raise TrainError(f"{path}: no such model file (the config's `model`)")
    module = load_file(path)
    cls = getattr(module, cfg.model_class, None)
    if cls is None:
        raise TrainError(f"{path} defines no class {cfg.model_class} (the config's `model_class`)")
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    model: nn.Module = cls(num_classes=cfg.num_classes)
    if cfg.sync_bn and ctx.world > 1:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]
    if cfg.channels_last and ctx.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload,unused-ignore]
    return model.to(ctx.device)


def build_data(cfg: TrainConfig, options: TrainOptions, ctx: Context) -> tuple[Any, Any, int]:
    """(train dataset, val dataset or None, number of classes in the data)."""
    source = options.data or cfg.data_dir
    if source is None:
        raise TrainError("no data: pass --data DIR (ImageFolder) or --data synthetic")
    if source == "synthetic":
        return (
            SyntheticSet(options.synthetic_images, cfg.img_size, cfg.num_classes, cfg.in_chans),
            None,
            cfg.num_classes,
        )
    root = Path(source)
    classes = check_image_folder(root)
    if len(classes) != cfg.num_classes:
        raise TrainError(
            f"{root} has {len(classes)} classes but the model has {cfg.num_classes} outputs: "
            f"rebuild it with --set num_classes={len(classes)}"
        )
    train_tf = transforms(cfg.img_size, True, cfg.aa, cfg.crop_pct)
    train = ImageFolderSet(root / "train", train_tf, cfg.img_size, cfg.in_chans)
    val = None
    if (root / "val").is_dir():
        val_tf = transforms(cfg.img_size, False, None, cfg.crop_pct)
        val = ImageFolderSet(root / "val", val_tf, cfg.img_size, cfg.in_chans)
    return train, val, len(classes)


def build_optimizer(cfg: TrainConfig, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    from specc.runtime.optim import RMSpropTF, param_groups

    groups = param_groups(model, cfg.weight_decay)
    if cfg.opt == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
    return RMSpropTF(groups, lr=lr, decay=cfg.opt_decay, momentum=cfg.momentum, eps=cfg.opt_eps)
