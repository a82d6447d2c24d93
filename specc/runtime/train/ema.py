"""An exponential moving average of a model's weights, evaluated in place of the model.

The EfficientNet recipe (paper section 5.2, TF reference `ExponentialMovingAverage(0.9999)`)
reports the accuracy of averaged weights. TF averages the trainable variables and the batch
norms' moving mean and variance, so this averages every floating-point entry of the state
dict (parameters and buffers) and copies the rest (`num_batches_tracked`). This module must
not train, step an optimiser, or change the model it averages.

Imports torch.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch.nn.parallel import DataParallel, DistributedDataParallel


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    # Only the data-parallel wrappers: a user's model may well have a child named `module`.
    if isinstance(model, DataParallel | DistributedDataParallel):
        inner: torch.nn.Module = model.module
        return inner
    return model


class ModelEma:
    """A frozen copy of a model whose weights follow the model's as a moving average.

    Every `update(model)`: ema = d * ema + (1 - d) * value for each floating-point entry
    of the state dict, with d = `decay`, or with `warmup` d = min(decay, (1 + n) / (10 + n))
    where n is the number of updates before this one (TF's `num_updates` rule, which lets
    the average forget the random initialisation in the first thousands of steps instead
    of over 1 / (1 - 0.9999) = 10,000 of them). Integer entries are copied.

    `module` is the copy to evaluate: in eval mode, requires_grad False, on the model's
    device. A model wrapped in DataParallel or DistributedDataParallel is unwrapped, both
    when copied and when read, so the averaged state dict has the bare model's names.
    """

    def __init__(
        self, model: torch.nn.Module, decay: float = 0.9999, *, warmup: bool = False
    ) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        self.module = copy.deepcopy(_unwrap(model)).eval()
        self.module.requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0

    def current_decay(self) -> float:
        """The decay the next `update` will use."""
        if not self.warmup:
            return self.decay
        n = self.num_updates
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average toward `model`'s current state (call after each optimiser step)."""
        decay = self.current_decay()
        source = _unwrap(model).state_dict()
        target = self.module.state_dict()  # shares storage with self.module's tensors
        if source.keys() != target.keys():
            missing = sorted(target.keys() - source.keys())
            extra = sorted(source.keys() - target.keys())
            raise ValueError(
                f"the model's state dict does not match the average's: missing {missing}, "
                f"unexpected {extra}"
            )
        for name, average in target.items():
            value = source[name]
            if average.is_floating_point():
                average.mul_(decay).add_(value.to(average), alpha=1.0 - decay)
            else:
                average.copy_(value)
        self.num_updates += 1

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights and the update count (which the warm-up decay depends on)."""
        return {"module": self.module.state_dict(), "num_updates": self.num_updates}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.module.load_state_dict(state_dict["module"])
        self.num_updates = int(state_dict["num_updates"])
