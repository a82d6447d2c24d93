"""A generated folder as an inference model: load it (with weights), fuse it, count it.

Shared by `specc export`, `specc bench` and `specc fit --target-latency`. Counts come from
the module itself, not from the IR, so they describe what is actually run: a fused model
has fewer parameters than `architecture.json` states (each folded batch norm's weight and
bias become the convolution's bias: one parameter per channel fewer), and the same MACs
(convolutions and linear layers; bias adds, norms and activations are not counted, as in
the IR). Imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn


class DeployError(Exception):
    """A user problem with a folder, weights file or option: the message says which."""


@dataclass(frozen=True)
class LoadedModel:
    model: nn.Module  # in eval mode; fused when asked
    input_shape: tuple[int, int, int]  # channels, height, width the folder was built for
    folder: Path
    fused: bool
    ir_params: int  # architecture.json's totals, for comparison with the module's counts
    ir_macs: int


def load_model(
    folder: str | Path, *, weights: str | Path | None = None, fuse: bool = False
) -> LoadedModel:
    """The network of a generated folder in eval mode, with `weights` (a state dict that
    loads strictly) and fused on request. Raises DeployError naming the file at fault."""
    from specc.runtime.module import instantiate

    folder = Path(folder)
    source = folder / "model.py"
    if not source.is_file():
        raise DeployError(f"{folder}: not a generated folder (no model.py); run specc build")
    input_shape, totals = _read_architecture(folder)
    try:
        model = instantiate(source)
    except Exception as error:  # a broken or foreign model.py: say so, no traceback
        raise DeployError(f"{source}: cannot instantiate the network: {error}") from None
    if weights is not None:
        _load_weights(model, Path(weights))
    model.eval()
    if fuse:
        if not hasattr(model, "fuse"):
            raise DeployError(f"{source}: no fuse() method; rebuild the folder with this specc")
        model.fuse()
    return LoadedModel(model, input_shape, folder, fuse, totals["params"], totals["macs"])


def _read_architecture(folder: Path) -> tuple[tuple[int, int, int], dict[str, int]]:
    path = folder / "architecture.json"
    try:
        data = json.loads(path.read_text())
        channels, height, width = (int(n) for n in data["input"])
        totals = {key: int(data["totals"][key]) for key in ("params", "macs")}
    except FileNotFoundError:
        raise DeployError(f"{path}: missing; run specc build to regenerate the folder") from None
    except (ValueError, KeyError, TypeError) as error:
        raise DeployError(f"{path}: unreadable input shape or totals ({error})") from None
    return (channels, height, width), totals


def _load_weights(model: nn.Module, path: Path) -> None:
    if not path.is_file():
        raise DeployError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DeployError(f"{path}: not a loadable state dict ({error})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a specc training checkpoint (last.pt / best.pt)
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        first = str(error).strip().splitlines()[:3]
        raise DeployError(f"{path}: does not fit this model: {' '.join(first)}") from None


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
