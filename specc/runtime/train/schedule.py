"""The learning-rate schedule of the EfficientNet recipe: linear warm-up, exponential decay.

Paper section 5.2: "learning rate 0.256 that decays by 0.97 every 2.4 epochs", for a batch
of 4096, with a 5-epoch linear warm-up in the TF reference (`utils.build_learning_rate`,
0.016 per 256 images scaled linearly with the global batch). `learning_rate` is that
function of the step, written to agree with the reference step for step; `WarmupExponential`
applies it to an optimiser. This module must not hold optimiser state or a training loop,
and it keeps no schedule state beyond the step count, so a resumed run cannot drift.

Imports torch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler


def learning_rate(
    step: int,
    *,
    base_lr: float,
    steps_per_epoch: int,
    warmup_epochs: float = 5,
    decay_rate: float = 0.97,
    decay_epochs: float = 2.4,
    staircase: bool = True,
) -> float:
    """The learning rate for optimiser step `step` (0 for the first update).

    As the TF reference computes it::

        warmup_steps = int(warmup_epochs * steps_per_epoch)
        decay_steps  = decay_epochs * steps_per_epoch              (a float: 2.4 epochs)
        lr = base_lr * step / warmup_steps                        if step < warmup_steps
        lr = base_lr * decay_rate ** floor(step / decay_steps)    otherwise (no floor
                                                                  unless staircase)

    The decay counts from step 0, not from the end of the warm-up: the reference computes
    the decayed rate from the global step and only substitutes the warm-up value before
    `warmup_steps`. So the rate right after a 5-epoch warm-up is already
    base_lr * 0.97**2 (5 // 2.4 = 2), not base_lr. The first update (step 0) has rate 0.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    if warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
    if decay_epochs <= 0:
        raise ValueError(f"decay_epochs must be > 0, got {decay_epochs}")
    # int() as in the reference: a fractional warm-up ends on the step before.
    warmup_steps = int(warmup_epochs * steps_per_epoch)
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    exponent = step / (decay_epochs * steps_per_epoch)
    if staircase:
        exponent = math.floor(exponent)
    return float(base_lr * decay_rate**exponent)


def scaled_lr(lr_per_256: float, global_batch: int) -> float:
    """The linear scaling rule: `lr_per_256` (0.016 in the recipe) per 256 images.

    The global batch is the batch across all workers, the one a single update averages.
    """
    if global_batch < 1:
        raise ValueError(f"global_batch must be >= 1, got {global_batch}")
    return lr_per_256 * global_batch / 256


class WarmupExponential(LRScheduler):
    """Sets every param group's lr to `learning_rate(step, ...) * group["lr_scale"]`.

    `lr_scale` defaults to 1 for a group that does not carry one. Step it once per
    optimiser step, after `optimizer.step()`: on construction the groups get the rate of
    step 0, after k calls to `step()` the rate of step k. The rate is a closed form of
    the step count, so `state_dict`/`load_state_dict` (the base class's: the step count
    and the arguments below) resume a run exactly. As for any torch scheduler, build the
    scheduler before loading the optimiser's state when resuming.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        base_lr: float,
        steps_per_epoch: int,
        warmup_epochs: float = 5,
        decay_rate: float = 0.97,
        decay_epochs: float = 2.4,
        staircase: bool = True,
        last_epoch: int = -1,
    ) -> None:
        # Set before the base class's __init__, which computes the first rate.
        self.schedule: dict[str, Any] = {
            "base_lr": base_lr,
            "steps_per_epoch": steps_per_epoch,
            "warmup_epochs": warmup_epochs,
            "decay_rate": decay_rate,
            "decay_epochs": decay_epochs,
            "staircase": staircase,
        }
        learning_rate(0, **self.schedule)  # refuse bad arguments here, not at step 1
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:
        """The rate of step `last_epoch` (the base class's name for the step count)."""
        rate = learning_rate(self.last_epoch, **self.schedule)
        return [rate * group.get("lr_scale", 1.0) for group in self.optimizer.param_groups]


def cosine_rate(
    step: int,
    *,
    base_lr: float,
    steps_per_epoch: int,
    total_steps: int,
    warmup_epochs: float = 5,
    min_lr: float = 0.0,
) -> float:
    """The `cosine` schedule (timm's, per step, without restarts): the same linear warm-up
    as `learning_rate`, then half a cosine from base_lr at the warm-up's end to min_lr at
    `total_steps` (the run's last step), and min_lr after it."""
    if step < 0 or steps_per_epoch < 1 or total_steps < 1 or warmup_epochs < 0:
        raise ValueError(
            f"need step >= 0, steps_per_epoch >= 1, total_steps >= 1, warmup_epochs >= 0; "
            f"got {step}, {steps_per_epoch}, {total_steps}, {warmup_epochs}"
        )
    warmup_steps = int(warmup_epochs * steps_per_epoch)
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return float(min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress)))


class WarmupCosine(WarmupExponential):
    """`cosine_rate` applied per step, like `WarmupExponential` (same state, same use)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        base_lr: float,
        steps_per_epoch: int,
        total_steps: int,
        warmup_epochs: float = 5,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.schedule = {
            "base_lr": base_lr,
            "steps_per_epoch": steps_per_epoch,
            "total_steps": total_steps,
            "warmup_epochs": warmup_epochs,
            "min_lr": min_lr,
        }
        cosine_rate(0, **self.schedule)
        LRScheduler.__init__(self, optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:
        rate = cosine_rate(self.last_epoch, **self.schedule)
        return [rate * group.get("lr_scale", 1.0) for group in self.optimizer.param_groups]
