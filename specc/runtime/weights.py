"""Import published weights (torchvision, timm) into a generated module, by structure.

Names differ between implementations, but every reference registers its top-level parts
(stem, stages, blocks, head, classifier) in the same order as specc. So the module's state
dict is cut into *units* and the checkpoint into chunks of the same sizes, in order:

- a unit is `stages.<i>.<j>` (a block, or a stage's named part such as a downsample layer)
  for names under `stages.`, and the first name component otherwise (`stem`, `head`,
  `classifier`, ... and any unit name a block kind adds);
- inside a unit, tensors pair by *role*, then order: a checkpoint tensor whose name has a
  component in `SHORTCUT_WORDS` (torchvision's RegNet registers its `proj` before the
  residual branch, ResNet's `downsample` comes last) pairs with the module's `.shortcut.`
  tensors, the rest pair in order;
- paired tensors must agree in shape, except for unit dimensions (torchvision ConvNeXt's
  layer scale (C, 1, 1) against (C,); a Linear [4C, C] against a 1x1 conv [4C, C, 1, 1]),
  which are reshaped.

Fine-tuning: when the only disagreements are the classifier's number of outputs (the last
unit) or the stem conv's input channels, the rest is imported, the classifier keeps its
fresh initialisation and the stem is adapted as timm's `adapt_input_conv` does (1 channel:
the sum over RGB; other counts: RGB repeated and rescaled by 3 / channels). The report says
exactly what was imported, reshaped, adapted and left fresh. Any other disagreement is
refused with both names and shapes, and nothing is written. BatchNorm's
`num_batches_tracked` counters are paired separately, because some checkpoints (ports from
TensorFlow) omit them.

Imports torch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from specc.diagnostics import UserError
from specc.runtime.files import (
    is_write_failure,
    temporary_beside,
    terminate_raises,
    write_failure,
)
from specc.runtime.model import instantiate_folder, open_folder, read_weights
from specc.tools.atomic import as_created

COUNTER = "num_batches_tracked"
MAX_REPORTED = 12
# Name components that mark a checkpoint tensor as part of a block's shortcut (projection)
# branch: torchvision ResNet `downsample`, RegNet `proj`; timm `shortcut`, `downsample`.
SHORTCUT_WORDS = frozenset({"downsample", "shortcut", "proj", "skip"})
TARGET_SHORTCUT = "shortcut"

Tensors = list[tuple[str, torch.Tensor]]


@dataclass(frozen=True)
class ImportReport:
    """What an import did. `tensors`: entries written; `parameters`: the module's count."""

    tensors: int
    parameters: int
    source_names: tuple[str, str]  # first and last checkpoint names, for the log
    reshaped: tuple[str, ...] = ()  # module names filled from a tensor of other unit dims
    adapted: tuple[str, ...] = ()  # the stem conv, adapted to the module's input channels
    fresh: tuple[str, ...] = ()  # module names left as initialised (the classifier)

    def lines(self) -> list[str]:
        """The report as a user reads it, one line per kind of entry."""
        out = []
        if self.reshaped:
            out.append(f"reshaped (unit dimensions): {', '.join(self.reshaped)}")
        if self.adapted:
            out.append(f"adapted to the input channels: {', '.join(self.adapted)}")
        if self.fresh:
            out.append(f"left freshly initialised: {', '.join(self.fresh)}")
        return out


@dataclass
class _Mapping:
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    reshaped: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def unit_of(name: str) -> str:
    """The unit a module tensor belongs to: `stages.<i>.<j>` or the first component."""
    parts = name.split(".")
    if parts[0] == "stages" and len(parts) > 3:
        return ".".join(parts[:3])
    return parts[0]


def units(names: list[str]) -> list[tuple[str, int]]:
    """(unit, number of tensors) in order of first appearance; a unit must be contiguous."""
    out: list[tuple[str, int]] = []
    for name in names:
        unit = unit_of(name)
        if out and out[-1][0] == unit:
            out[-1] = (unit, out[-1][1] + 1)
        else:
            out.append((unit, 1))
    return out


def _is_shortcut_source(name: str) -> bool:
    return any(part in SHORTCUT_WORDS for part in name.split("."))


def _is_shortcut_target(name: str) -> bool:
    return TARGET_SHORTCUT in name.split(".")


def _pair_unit(src: Tensors, dst: Tensors) -> list[tuple[int, int]]:
    """Index pairs (source, target) inside one unit: shortcut with shortcut, then order."""
    dst_short = [i for i, (n, _) in enumerate(dst) if _is_shortcut_target(n)]
    src_short = [i for i, (n, _) in enumerate(src) if _is_shortcut_source(n)]
    if not dst_short or len(src_short) != len(dst_short):
        return list(zip(range(len(src)), range(len(dst)), strict=True))
    src_main = [i for i in range(len(src)) if i not in set(src_short)]
    dst_main = [i for i in range(len(dst)) if i not in set(dst_short)]
    return [*zip(src_main, dst_main, strict=True), *zip(src_short, dst_short, strict=True)]


def pair_tensors(src: Tensors, dst: Tensors) -> list[tuple[int, int]]:
    """Global index pairs (source, target): the source is cut into chunks the sizes of the
    target's units, and each chunk paired with its unit by role and order."""
    pairs: list[tuple[int, int]] = []
    start = 0
    for _, size in units([name for name, _ in dst]):
        chunk = range(start, start + size)
        local = _pair_unit([src[i] for i in chunk], [dst[i] for i in chunk])
        pairs += [(start + s, start + d) for s, d in local]
        start += size
    return pairs


def _squeezed(shape: torch.Size) -> list[int]:
    return [d for d in shape if d != 1]


def _is_classifier(index: int, dst: Tensors, src_shape: torch.Size) -> bool:
    """The last unit's Linear (or 1x1 conv) weight or bias, differing only in outputs."""
    name, value = dst[index]
    last = units([n for n, _ in dst])[-1]
    if unit_of(name) != last[0] or index < len(dst) - last[1]:
        return False
    shape = value.shape
    if len(shape) != len(src_shape) or len(shape) not in (1, 2, 4):
        return False
    if len(shape) == 4 and tuple(shape[2:]) != (1, 1):
        return False
    return tuple(shape[1:]) == tuple(src_shape[1:]) and shape[0] != src_shape[0]


def adapt_input_conv(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """An RGB conv weight [O, 3, kh, kw] for `channels` inputs, as timm's adapt_input_conv:
    1 channel -> the sum over RGB; more -> RGB repeated, cut to `channels`, times 3/channels
    (so a constant image gives the same response)."""
    if channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(channels / weight.shape[1])
    return weight.repeat(1, repeats, 1, 1)[:, :channels] * (weight.shape[1] / channels)


def _fit(index: int, s: tuple[str, torch.Tensor], d: tuple[str, torch.Tensor], dst: Tensors,
         result: _Mapping) -> None:  # fmt: skip
    """Put source tensor `s` under target name `d`, or record why it does not fit."""
    (s_name, s_value), (d_name, d_value) = s, d
    if s_value.shape == d_value.shape:
        result.tensors[d_name] = s_value.to(d_value.dtype).clone()
    elif _squeezed(s_value.shape) == _squeezed(d_value.shape):
        result.tensors[d_name] = s_value.reshape(d_value.shape).to(d_value.dtype).clone()
        result.reshaped.append(d_name)
    elif (
        index == 0 and s_value.ndim == 4 and d_value.ndim == 4 and s_value.shape[1] == 3
        and s_value.shape[0] == d_value.shape[0] and s_value.shape[2:] == d_value.shape[2:]
    ):  # fmt: skip
        adapted = adapt_input_conv(s_value.to(d_value.dtype), d_value.shape[1])
        result.tensors[d_name] = adapted.clone()
        result.adapted.append(d_name)
    elif _is_classifier(index, dst, s_value.shape):
        result.tensors[d_name] = d_value.clone()
        result.fresh.append(d_name)
    else:
        result.problems.append(
            f"tensor {index}: checkpoint {s_name} {tuple(s_value.shape)} does not fit "
            f"{d_name} {tuple(d_value.shape)}"
        )


def _map(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> _Mapping:
    src = [(k, v) for k, v in source.items() if not k.endswith(COUNTER)]
    dst = [(k, v) for k, v in target.items() if not k.endswith(COUNTER)]
    result = _Mapping()
    if len(src) != len(dst):
        result.problems.append(
            f"the checkpoint holds {len(src)} weight tensors, the model {len(dst)}: "
            "they are different architectures"
        )
        shared = min(len(src), len(dst))
        src, dst = src[:shared], dst[:shared]
    try:
        pairs = pair_tensors(src, dst)
    except ValueError:  # a unit whose roles do not line up
        pairs = list(zip(range(len(src)), range(len(dst)), strict=True))
    for s_index, d_index in sorted(pairs, key=lambda pair: pair[1]):
        _fit(d_index, src[s_index], dst[d_index], dst, result)
    counters_src = [v for k, v in source.items() if k.endswith(COUNTER)]
    counters_dst = [(k, v) for k, v in target.items() if k.endswith(COUNTER)]
    for position, (name, value) in enumerate(counters_dst):
        fallback = torch.zeros_like(value)
        result.tensors[name] = (
            counters_src[position].clone() if len(counters_src) == len(counters_dst) else fallback
        )
    return result


def map_state_dict(
    source: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    *,
    fine_tune: bool = True,
) -> dict[str, torch.Tensor]:
    """The source's tensors under the target's names, paired by structure, shapes checked.

    With `fine_tune`, a classifier of another size stays as in `target` and an RGB stem is
    adapted to the target's input channels; without it, both are refused.
    Raises UserError listing every tensor that does not fit (both names, shapes)."""
    return _checked(_map(source, target), fine_tune, target)


def _checked(
    result: _Mapping, fine_tune: bool, target: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    problems = list(result.problems)
    if not fine_tune:
        problems += [f"{name}: the checkpoint's shape differs" for name in result.fresh]
        problems += [f"{name}: the checkpoint's input channels differ" for name in result.adapted]
    if problems:
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append(f"... and {len(problems) - MAX_REPORTED} more mismatches")
        raise UserError("the checkpoint does not fit the model", details=shown)
    return {name: result.tensors[name] for name in target}


def import_weights(
    model: torch.nn.Module, source: Mapping[str, torch.Tensor], *, fine_tune: bool = True
) -> ImportReport:
    """Load `source` into `model` by structure (strict); raises UserError.

    The returned report names the tensors reshaped, adapted (stem) and left fresh
    (classifier); everything else was copied from `source`."""
    target = model.state_dict()
    result = _map(source, target)
    mapped = _checked(result, fine_tune, target)
    model.load_state_dict(mapped, strict=True)
    names = [k for k in source if not k.endswith(COUNTER)]
    parameters = sum(p.numel() for p in model.parameters())
    return ImportReport(
        len(mapped) - len(result.fresh),
        parameters,
        (names[0], names[-1]),
        tuple(result.reshaped),
        tuple(result.adapted),
        tuple(result.fresh),
    )


def save_atomically(state: Mapping[str, Any], path: str | Path) -> Path:
    """Write with torch.save to a temporary file beside `path`, then rename it into place:
    a failure (a full disk: "no space left on device", said so) keeps the previous file and
    leaves no temporary (`specc.runtime.files.temporary_beside`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with temporary_beside(path) as temporary:
            torch.save(dict(state), temporary)
            as_created(temporary)  # 0644 as other outputs, not mkstemp's 0600
            os.replace(temporary, path)
    except (OSError, RuntimeError) as exc:
        if is_write_failure(exc):
            raise write_failure(path, exc) from None
        raise
    return path


def import_checkpoint(
    checkpoint: str | Path, folder: str | Path, out: str | Path | None = None
) -> tuple[Path, ImportReport]:
    """`specc weights import`: map CHECKPOINT onto FOLDER's model.py, write a state dict
    that loads with strict=True (default FOLDER/weights.pt); UserError, with nothing
    written, when it does not fit."""
    opened = open_folder(folder)
    model = instantiate_folder(opened)
    source = read_weights(checkpoint)
    try:
        report = import_weights(model, source)
    except UserError as error:
        raise UserError(
            f"cannot import {checkpoint} into {opened.path} (nothing was written)",
            details=error.details,
            hint="a checkpoint imports into the generated model of the same network",
        ) from None
    target = out if out is not None else opened.path / "weights.pt"
    with terminate_raises():  # a SIGTERM leaves no temporary either
        return save_atomically(model.state_dict(), target), report
