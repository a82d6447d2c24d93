"""Counting a generated network as it runs, and giving its norms statistics to fold.

Shared by `specc export`, `specc bench` and `specc fit --target-latency` (which load through
`specc.runtime.model`). Counts come from the module itself, not from the IR, so they
describe what is actually run: a fused model has fewer parameters than `architecture.json`
states (each folded batch norm's weight and bias become the convolution's bias: one
parameter per channel fewer), and the same MACs (convolutions and linear layers; bias adds,
norms and activations are not counted, as in the IR). Imports torch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    """Parameters of the module as it is (fused or not; buffers such as norm statistics are
    not counted). A fused conv's new bias counts although torch creates it frozen."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one image through the module's Conv2d and Linear layers,
    measured with forward hooks on a zero input of `input_shape` (C, H, W)."""
    total = 0

    def conv_hook(module: nn.Conv2d, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output[0].numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        total += output[0].numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    parameter = next(model.parameters())
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=parameter.device, dtype=parameter.dtype))
    finally:
        for handle in handles:
            handle.remove()
    return total


def randomize_batch_norm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every batch norm non-trivial statistics and affine parameters (in place), so
    that folding them is actually exercised; fresh models have mean 0, var 1, weight 1."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_((torch.rand(n, generator=generator) - 0.5) * 0.4)
    return model
