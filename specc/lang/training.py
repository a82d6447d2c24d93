"""The `training:` section of a spec: the recipe `specc build` resolves into train.yaml.

Defaults are the EfficientNet paper's recipe (section 5.2, and the released TF code):
RMSProp TF-style (decay 0.9, momentum 0.9, eps 1e-3 inside the square root), weight decay
1e-5 on conv and linear weights only, LR 0.016 per 256 images scaled linearly with the
global batch, 5 warm-up epochs then x0.97 every 2.4 epochs (staircase), EMA of weights
0.9999, label smoothing 0.1, AutoAugment (ImageNet policy), bf16 autocast, channels_last.
Key names follow timm's train.py where it has one, so users recognise them.

Pydantic only; the trainer (specc.runtime) reads the resolved train.yaml, not this.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from specc.lang.types import StrictModel

Positive = Annotated[float, Field(gt=0.0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Interpolation = Literal["bicubic", "bilinear", "nearest", "random"]
# torchvision's AutoAugment policies, by name; anything else must be one of timm's
# augmentation strings (`rand-m9-mstd0.5`, `augmix-m5-w4-d2`, `original-mstd0.5`, `v0`).
TORCHVISION_POLICIES = ("imagenet", "cifar10", "svhn")
TIMM_AUGMENT = re.compile(r"(rand|augmix|original|originalr|v0|v0r|3a)(-[A-Za-z0-9_.]+)*")


class Training(StrictModel):
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 350
    """training epochs"""
    batch_size: Annotated[int, Field(ge=1, le=65536, description="images per process")] = 128
    lr_base: Positive = Field(0.016, description="learning rate per lr_base_size images")
    lr_base_size: Annotated[int, Field(ge=1)] = 256
    """the batch size lr_base is stated for; the rate scales linearly with the global batch"""
    opt: Literal["rmsproptf", "sgd"] = "rmsproptf"
    """optimiser: rmsproptf (TF's RMSProp, the paper's) or sgd"""
    opt_eps: Positive = Field(1e-3, description="RMSProp epsilon, inside the square root")
    opt_decay: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.9, description="RMSProp decay of the squared-gradient average (TF's decay, rho)"
    )
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    """optimiser momentum"""
    weight_decay: Annotated[float, Field(ge=0.0)] = Field(
        1e-5, description="L2 on conv and linear weights; never on norm parameters or biases"
    )
    sched: Literal["step", "cosine"] = Field(
        "step", description="linear warm-up, then staircase decay (step) or a cosine to min_lr"
    )
    min_lr: Annotated[float, Field(ge=0.0)] = Field(0.0, description="cosine: the final rate")
    warmup_epochs: Annotated[float, Field(ge=0.0)] = 5.0
    """epochs of linear warm-up from 0"""
    decay_epochs: Positive = 2.4
    """step schedule: epochs between decays"""
    decay_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.97
    """step schedule: factor per decay"""
    model_ema: bool = True
    """keep an exponential moving average of the weights"""
    model_ema_decay: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9999
    """EMA decay per update"""
    model_ema_warmup: bool = Field(
        True, description="decay min(d, (1 + n) / (10 + n)) after n updates, as TF's EMA"
    )
    smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    """label smoothing"""
    aa: str | None = Field(
        "imagenet",
        description="AutoAugment policy of torchvision (imagenet, cifar10, svhn) or a timm "
        "augmentation string (rand-m9-mstd0.5, augmix-m5-w4-d2, original); null for none",
    )
    hflip: Probability = Field(0.5, description="probability of a horizontal flip")
    vflip: Probability = Field(0.0, description="probability of a vertical flip")
    scale: Annotated[list[Probability], Field(min_length=2, max_length=2)] = Field(
        [0.08, 1.0], description="random-resized-crop area range, as fractions of the image"
    )
    ratio: Annotated[list[Positive], Field(min_length=2, max_length=2)] = Field(
        [0.75, 4 / 3], description="random-resized-crop aspect-ratio range"
    )
    color_jitter: Annotated[float, Field(ge=0.0)] = Field(
        0.0, description="brightness/contrast/saturation jitter strength; 0 for none"
    )
    reprob: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="random-erasing probability (timm's, per-pixel noise)"
    )
    train_interpolation: Interpolation = "bicubic"
    """training resize"""
    interpolation: Interpolation = Field("bicubic", description="evaluation resize")
    mean: list[float] | None = Field(
        None, description="per-channel input mean; null: ImageNet's for 3 channels, else 0.5"
    )
    std: list[Positive] | None = Field(
        None, description="per-channel input std; null: ImageNet's for 3 channels, else 0.5"
    )
    crop_pct: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.875, description="evaluation: resize to size / crop_pct, then center-crop size"
    )
    amp: bool = Field(True, description="autocast on CUDA (CPU runs in fp32)")
    amp_dtype: Literal["bfloat16", "float16"] = "bfloat16"
    """autocast type on CUDA"""
    channels_last: bool = True
    """channels-last memory format"""
    grad_checkpointing: bool = Field(
        False,
        description="recompute each stage in the backward pass (timm's set_grad_checkpointing):"
        " less activation memory for about a third more compute",
    )
    workers: Annotated[int, Field(ge=0, le=256)] = 8
    """data-loading processes"""
    pin_mem: bool = True
    """pinned host memory for the loader"""
    data_dir: str | None = None
    """dataset folder; null: given on the command line"""
    sync_bn: bool = False
    """synchronised batch norm across processes"""
    # torch, numpy and Python all take seeds in [0, 2^32); a run adds rank and epoch to it.
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 42
    """random seed, in [0, 2^32)"""
    log_interval: Annotated[int, Field(ge=1)] = 50
    """steps between log lines"""

    @field_validator("aa")
    @classmethod
    def _known_augmentation(cls, value: str | None) -> str | None:
        if value is None or value in TORCHVISION_POLICIES or TIMM_AUGMENT.fullmatch(value):
            return value
        raise ValueError(
            f"unknown augmentation {value!r}: use one of {', '.join(TORCHVISION_POLICIES)}, "
            "a timm string such as rand-m9-mstd0.5 or augmix-m5-w4-d2, or null"
        )

    @field_validator("scale", "ratio")
    @classmethod
    def _ordered(cls, value: list[float]) -> list[float]:
        if value[0] > value[1]:
            raise ValueError(f"the range must be [low, high], got {value}")
        return value
