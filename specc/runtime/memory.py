"""Training memory measured with PyTorch: the bytes autograd saves for the backward pass of
one training step, the number `specc.passes.memory` predicts from the IR.

    measure_saved(model, x, precision=, device=)  -> Measurement

Every tensor autograd saves passes `torch.autograd.graph.saved_tensors_hooks`'s pack hook;
tensors are counted once per storage (a view saved by two ops is one allocation), and the
model's parameters and buffers are left out (they are weights, not activations; an
autocast copy of a weight is not a parameter and counts). Stages run under
`torch.utils.checkpoint` save nothing through the hook: their inputs, which the
checkpoint keeps to recompute them, are counted instead. On CUDA the step's
`torch.cuda.max_memory_allocated` is recorded too (forward, backward, optimiser-free).
Imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class Measurement:
    """`saved` bytes autograd held for backward (storages counted once); `tensors` how
    many storages; `cuda_peak` torch.cuda.max_memory_allocated over the step (None on
    CPU); `gradients` the parameters' gradients after backward, by name."""

    saved: int
    tensors: int
    cuda_peak: int | None
    gradients: dict[str, torch.Tensor]


def measure_saved(
    model: nn.Module,
    x: torch.Tensor,
    *,
    precision: str = "float32",
    keep_gradients: bool = False,
) -> Measurement:
    """One training-mode forward and backward of `model` on `x` (its device), under
    autocast when `precision` is bfloat16 or float16; the loss is the logits' sum."""
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {', '.join(DTYPES)}, got {precision!r}")
    weights = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    storages: dict[int, int] = {}

    def count(tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer not in weights:
            storages.setdefault(pointer, storage.nbytes())

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        count(tensor)
        return tensor

    def keep_inputs(_module: nn.Module, args: tuple[Any, ...]) -> None:
        for arg in args:
            if isinstance(arg, torch.Tensor):
                count(arg)

    handles = [module.register_forward_pre_hook(keep_inputs) for module in _checkpointed(model)]
    cuda = x.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    model.train()
    model.zero_grad(set_to_none=True)
    dtype = DTYPES[precision]
    try:
        autocast = torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=bool(dtype))
        with torch.autograd.graph.saved_tensors_hooks(pack, _unpack), autocast:
            out = model(x)
        out.float().sum().backward()
    finally:
        for handle in handles:
            handle.remove()
    peak = torch.cuda.max_memory_allocated() if cuda else None
    gradients = (
        {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        if keep_gradients
        else {}
    )
    return Measurement(sum(storages.values()), len(storages), peak, gradients)


def _unpack(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _checkpointed(model: nn.Module) -> list[nn.Module]:
    """The stages a generated model runs under torch.utils.checkpoint (its
    `grad_checkpointing` flag): their inputs are what the checkpoint keeps."""
    if not getattr(model, "grad_checkpointing", False):
        return []
    stages: Any = getattr(model, "stages", [])
    return list(stages)
