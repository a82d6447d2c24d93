"""Checks of a run against the built model before the first step, and naming the layer
where a step failed.

`constructor_kwargs` decides what the generated class is built with: train.yaml's
`num_classes`, `in_chans`, `drop` and `drop_path` are passed when the constructor takes
them (timm's names: num_classes, in_chans, drop_rate, drop_path_rate) and refused with a
message when it does not and the value differs from what model.py was built with; a key
is never silently ignored. `preflight` runs one image through the model (eval mode, no
randomness consumed) and turns what would fail at step 1 into a message: channels that do
not match, outputs that do not match the classes, batch norm over a single value.

Imports torch.
"""

from __future__ import annotations

import inspect
import random
from typing import Any

import torch
from torch import nn

from specc.diagnostics import UserError
from specc.runtime.train.config import TrainConfig

# train.yaml key -> (constructor argument, spec field to rebuild with)
ARGUMENTS = {
    "num_classes": ("num_classes", "num_classes"),
    "in_chans": ("in_chans", "input.channels"),
    "drop": ("drop_rate", "classifier.dropout"),
    "drop_path": ("drop_path_rate", "scaling.drop_path"),
}


def constructor_kwargs(cls: Any, cfg: TrainConfig, path: str) -> dict[str, Any]:
    """Keyword arguments for the generated class, or UserError naming every key of
    train.yaml that differs from the build and that the constructor cannot take."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs: dict[str, Any] = {}
    problems = []
    for key, (argument, field) in ARGUMENTS.items():
        value = getattr(cfg, key)
        if argument in parameters or takes_any:
            kwargs[argument] = value
            continue
        built = getattr(cfg.built, key) if cfg.built is not None else value
        if value != built:
            problems.append(
                f"train.yaml sets {key}: {value}, but {path} was built with {built} and its "
                f"constructor takes no `{argument}`: set {key}: {built} again, or rebuild "
                f"with --set {field}={value}"
            )
    if problems:
        raise UserError("\n".join(problems))
    return kwargs


def first_conv_channels(model: nn.Module) -> int | None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return int(module.in_channels)
    return None


def preflight(model: nn.Module, cfg: TrainConfig, sample: torch.Tensor, classes: int) -> None:
    """Run `sample` (C, H, W, as the loader makes it) through `model` once and check the run.

    Raises UserError when the model does not take the data's channels, when its
    outputs are not the data's classes, or when batch_size 1 would put a single value per
    channel through a batch norm (1x1 maps), which cannot train."""
    device = next(model.parameters()).device
    seen: list[tuple[str, int]] = []

    def record(name: str) -> Any:
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0]
            seen.append((name, x.numel() // max(x.shape[0] * x.shape[1], 1)))

        return hook

    handles = [
        module.register_forward_pre_hook(record(name))
        for name, module in model.named_modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm)
    ]
    was_training = model.training
    python_state = random.getstate()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            model.eval()
            try:
                logits = model(sample.unsqueeze(0).to(device))
            except Exception as exc:  # any layer may refuse the input; name it
                raise UserError(_input_problem(model, cfg, sample, exc)) from None
    finally:
        random.setstate(python_state)
        model.train(was_training)
        for handle in handles:
            handle.remove()
    if logits.ndim != 2 or logits.shape[1] != classes:
        raise UserError(
            f"the model returns {tuple(logits.shape[1:])} per image but the data has {classes} "
            f"classes: rebuild with --set num_classes={classes}"
        )
    single = [name for name, values in seen if values == 1]
    if cfg.batch_size == 1 and single:
        raise UserError(
            f"batch size 1 cannot train this model: batch norm {single[0]} sees 1x1 maps, "
            "so it would normalise a single value per channel; use a batch size >= 2"
        )


def _input_problem(model: nn.Module, cfg: TrainConfig, sample: torch.Tensor, exc: Exception) -> str:
    channels = first_conv_channels(model)
    shape = tuple(sample.shape)
    if channels is not None and channels != sample.shape[0]:
        return (
            f"the model takes {channels} input channels but the data gives {sample.shape[0]} "
            f"(in_chans: {cfg.in_chans}): rebuild with --set input.channels={sample.shape[0]}, "
            f"or set in_chans: {channels}"
        )
    return f"the model cannot run on the data's {shape} images: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def failing_layer(model: nn.Module, exc: BaseException) -> str | None:
    """The dotted name of the innermost module of `model` whose code raised `exc`."""
    names = {id(module): name for name, module in model.named_modules() if name}
    found = None
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if owner is not None and id(owner) in names:
            found = names[id(owner)]
        tb = tb.tb_next
    return found


def step_failure(model: nn.Module, exc: BaseException, step: int, epoch: int) -> str:
    """The message for an exception raised inside training step `step`."""
    layer = failing_layer(model, exc)
    where = f" in layer {layer}" if layer else ""
    return f"step {step} (epoch {epoch}) failed{where}: {_first_line(exc)}"
