"""The optimiser of the EfficientNet recipe: TensorFlow's RMSProp, and weight-decay groups.

EfficientNet (paper section 5.2) trains with `tf.compat.v1.train.RMSPropOptimizer(lr,
decay=0.9, momentum=0.9, epsilon=1e-3)` and an L2 loss of 1e-5. TensorFlow's RMSProp is not
`torch.optim.RMSprop` with other defaults: it differs in three places that change training
(see `RMSpropTF`), so it is written out here. This module holds the update rule and the
split of parameters into decayed and non-decayed groups; it must not hold the schedule
(`schedule.py`), the weight average (`ema.py`) or any training loop.

Imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, overload

import torch


class RMSpropTF(torch.optim.Optimizer):
    """RMSProp as TensorFlow 1 computes it, the optimiser EfficientNet was trained with.

    For each parameter p with gradient g, every step::

        g   = g + weight_decay * p                              (L2, as TF's l2_loss adds)
        ms  = decay * ms + (1 - decay) * g**2                   (ms starts at ONES)
        mom = momentum * mom + lr * g / sqrt(ms + eps)          (mom starts at zeros)
        p   = p - mom

    How this differs from `torch.optim.RMSprop`, which computes
    `p -= lr * buf` with `buf = momentum * buf + g / (sqrt(ms) + eps)`:

    - eps is inside the square root. With eps = 1e-3 this bounds the step where ms is
      tiny far more gently than eps outside (1/sqrt(1e-3) = 32 against 1/1e-3 = 1000).
    - ms starts at one, not zero, so the first steps are about lr * g (for |g| small
      against 1), not lr * sign(g) / sqrt(1 - decay) whatever the gradient's scale.
    - lr multiplies the gradient before it enters the momentum buffer. When the schedule
      changes lr, steps already in the buffer keep the lr they were taken with; torch's
      RMSprop rescales the whole buffer at once.

    `weight_decay` is coupled L2 (added to the gradient, so it is also normalised by
    sqrt(ms + eps)), matching the reference's `weight_decay * sum(l2_loss(v))` term; it is
    not AdamW-style decoupled decay. Param groups may carry their own lr and weight_decay
    (see `param_groups`). Sparse gradients are refused.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float,
        decay: float = 0.9,
        momentum: float = 0.9,
        eps: float = 1e-3,
        weight_decay: float = 0.0,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        if momentum < 0.0:
            raise ValueError(f"momentum must be >= 0, got {momentum}")
        if eps < 0.0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        if weight_decay < 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        defaults = {
            "lr": lr,
            "decay": decay,
            "momentum": momentum,
            "eps": eps,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, param.grad, group)
        return loss

    def _update(self, param: torch.Tensor, grad: torch.Tensor, group: dict[str, Any]) -> None:
        if grad.is_sparse:
            raise RuntimeError("RMSpropTF does not support sparse gradients")
        state = self.state[param]
        if not state:
            # TF initialises the squared-gradient average to ones; zeros would make the
            # first step lr * sign(g) / sqrt(1 - decay), whatever the gradient's scale.
            state["square_avg"] = torch.ones_like(param, memory_format=torch.preserve_format)
            state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        if group["weight_decay"] != 0.0:
            grad = grad.add(param, alpha=group["weight_decay"])
        square_avg: torch.Tensor = state["square_avg"]
        buffer: torch.Tensor = state["momentum_buffer"]
        square_avg.mul_(group["decay"]).addcmul_(grad, grad, value=1.0 - group["decay"])
        denominator = square_avg.add(group["eps"]).sqrt_()
        buffer.mul_(group["momentum"]).addcdiv_(grad, denominator, value=group["lr"])
        param.sub_(buffer)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """The model's trainable parameters in two groups: decayed and not.

    Conv and linear weights (ndim >= 2) get `weight_decay`; every parameter with ndim <= 1
    (norm scales and shifts, all biases) gets none, since shrinking a norm's scale or a
    bias toward zero does not regularise the function the way shrinking a weight does.
    Frozen parameters (requires_grad False) are left out, and so is an empty group.
    """
    decayed: list[torch.nn.Parameter] = []
    not_decayed: list[torch.nn.Parameter] = []
    for parameter in model.parameters():
        if not parameter.requires_grad:
            continue
        (not_decayed if parameter.ndim <= 1 else decayed).append(parameter)
    groups = [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": not_decayed, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]
