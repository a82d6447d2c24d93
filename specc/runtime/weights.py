"""Import published weights (torchvision, timm) into a generated module, by structure.

Names differ between implementations but the order of tensors in a state dict follows
the order in which modules register their parameters and buffers, and specc's blocks
register theirs in the reference order (expand, depthwise, SE, project; conv, norm). So
the checkpoint's tensors are paired with the module's in order, and every pair must agree
in shape. Any disagreement is reported with both names and shapes, and nothing is
written. BatchNorm's `num_batches_tracked` counters are paired separately, because some
checkpoints (ports from TensorFlow) omit them.

Imports torch.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

COUNTER = "num_batches_tracked"
MAX_REPORTED = 12


class WeightImportError(Exception):
    """The checkpoint does not fit the module; `problems` says where."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class ImportReport:
    tensors: int
    parameters: int
    source_names: tuple[str, str]  # first and last checkpoint names, for the log


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a checkpoint file (a bare state dict or one nested under a
    `state_dict`, `model` or `state_dict_ema` key), loaded without unpickling code."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightImportError([f"{path}: no such file"]) from None
    except Exception as exc:  # torch raises many kinds for corrupt or unsafe files
        raise WeightImportError([f"{path}: not a loadable checkpoint ({exc})"]) from None
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
    ):
        raise WeightImportError([f"{path}: holds no state dict of named tensors"])
    return dict(data)


def map_state_dict(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The source's tensors under the target's names, paired in order, shapes checked."""
    src = [(k, v) for k, v in source.items() if not k.endswith(COUNTER)]
    dst = [(k, v) for k, v in target.items() if not k.endswith(COUNTER)]
    problems = []
    if len(src) != len(dst):
        problems.append(
            f"the checkpoint holds {len(src)} weight tensors, the model {len(dst)}: "
            "they are different architectures"
        )
    for index, ((s_name, s_value), (d_name, d_value)) in enumerate(zip(src, dst, strict=False)):
        if s_value.shape != d_value.shape:
            problems.append(
                f"tensor {index}: checkpoint {s_name} {tuple(s_value.shape)} does not fit "
                f"{d_name} {tuple(d_value.shape)}"
            )
    if problems:
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append(f"... and {len(problems) - MAX_REPORTED} more mismatches")
        raise WeightImportError(shown)

    mapped = {d_name: s_value.to(d_value.dtype).clone() for (_, s_value), (d_name, d_value) in
              zip(src, dst, strict=True)}  # fmt: skip
    counters_src = [v for k, v in source.items() if k.endswith(COUNTER)]
    counters_dst = [(k, v) for k, v in target.items() if k.endswith(COUNTER)]
    for position, (name, value) in enumerate(counters_dst):
        fallback = torch.zeros_like(value)
        mapped[name] = (
            counters_src[position].clone() if len(counters_src) == len(counters_dst) else fallback
        )
    return {name: mapped[name] for name in target}


def import_weights(model: torch.nn.Module, source: Mapping[str, torch.Tensor]) -> ImportReport:
    """Load `source` into `model` by structure (strict); raises WeightImportError."""
    mapped = map_state_dict(source, model.state_dict())
    model.load_state_dict(mapped, strict=True)
    names = [k for k in source if not k.endswith(COUNTER)]
    parameters = sum(p.numel() for p in model.parameters())
    return ImportReport(len(mapped), parameters, (names[0], names[-1]))


def save_atomically(state: Mapping[str, Any], path: str | Path) -> Path:
    """Write with torch.save to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        torch.save(dict(state), temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def import_checkpoint(
    checkpoint: str | Path, folder: str | Path, out: str | Path | None = None
) -> tuple[Path, ImportReport]:
    """`specc weights import`: map CHECKPOINT onto FOLDER's model.py, write a state dict
    that loads with strict=True (default FOLDER/weights.pt)."""
    from specc.runtime.module import instantiate

    folder = Path(folder)
    if not (folder / "model.py").is_file():
        raise WeightImportError([f"{folder}: no model.py (build the model with specc build first)"])
    model = instantiate(folder)
    report = import_weights(model, read_checkpoint(checkpoint))
    target = save_atomically(model.state_dict(), out if out is not None else folder / "weights.pt")
    return target, report
