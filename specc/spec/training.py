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

from typing import Annotated, Literal

from pydantic import Field

from specc.spec.types import StrictModel

Positive = Annotated[float, Field(gt=0.0)]


class Training(StrictModel):
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 350
    batch_size: Annotated[int, Field(ge=1, le=65536, description="images per process")] = 128
    lr_base: Positive = Field(0.016, description="learning rate per lr_base_size images")
    lr_base_size: Annotated[int, Field(ge=1)] = 256
    opt: Literal["rmsproptf", "sgd"] = "rmsproptf"
    opt_eps: Positive = Field(1e-3, description="RMSProp epsilon, inside the square root")
    opt_decay: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.9, description="RMSProp decay of the squared-gradient average (TF's decay, rho)"
    )
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    weight_decay: Annotated[float, Field(ge=0.0)] = Field(
        1e-5, description="L2 on conv and linear weights; never on norm parameters or biases"
    )
    sched: Literal["step"] = Field("step", description="linear warm-up, then staircase decay")
    warmup_epochs: Annotated[float, Field(ge=0.0)] = 5.0
    decay_epochs: Positive = 2.4
    decay_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.97
    model_ema: bool = True
    model_ema_decay: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9999
    model_ema_warmup: bool = Field(
        True, description="decay min(d, (1 + n) / (10 + n)) after n updates, as TF's EMA"
    )
    smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    aa: Literal["imagenet", "cifar10", "svhn"] | None = Field(
        "imagenet", description="torchvision AutoAugment policy; null for none"
    )
    crop_pct: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.875, description="evaluation: resize to size / crop_pct, then center-crop size"
    )
    amp: bool = Field(True, description="autocast on CUDA (CPU runs in fp32)")
    amp_dtype: Literal["bfloat16", "float16"] = "bfloat16"
    channels_last: bool = True
    workers: Annotated[int, Field(ge=0, le=256)] = 8
    pin_mem: bool = True
    data_dir: str | None = None
    sync_bn: bool = False
    seed: int = 42
    log_interval: Annotated[int, Field(ge=1)] = 50
