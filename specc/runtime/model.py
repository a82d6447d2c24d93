"""The one loader of what specc reads back with torch: a generated folder, its network, a
weights file or a training checkpoint. Every command and the Python API load through here,
so every accepted layout works everywhere.

    open_folder(path)          a generated folder, checked: model.py, architecture.json
    read_checkpoint(path)      the file's content, without unpickling code (the one
                               `torch.load` of specc)
    read_weights(path, ema=)   a state dict from any accepted layout (below)
    load_weights(model, path)  strictly, explaining a mismatch
    load_model(folder, ...)    the network of a folder, with weights, fused on request
    instantiate(source)        a network from model.py text, a file, a folder or an
                               Architecture

Accepted weights layouts: a bare state dict (`specc weights import`'s weights.pt, torch's
`torch.save(model.state_dict())`); one nested under `state_dict` (timm, Lightning) or
`model` (specc's own last.pt/best.pt, torchvision's reference scripts); timm's
`state_dict_ema` and specc's `ema` (with `ema=True`: the EMA weights, which a training
checkpoint keeps beside the raw ones). Generated sources run as fresh modules with unique
names, so two models of one class name live side by side. Imports torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from specc.build.folder import settle
from specc.diagnostics import SpecError, UserError

MODEL_FILE, RECORD_FILE = "model.py", "architecture.json"
# Where a nested state dict lives, in the order looked at (EMA ones with ema=True).
RAW_KEYS = ("state_dict", "model")
EMA_KEYS = ("state_dict_ema", "ema", "model_ema")
MAX_LISTED = 6


@dataclass(frozen=True)
class GeneratedFolder:
    """A generated folder, checked: its model.py and what architecture.json records."""

    path: Path
    source: Path  # model.py
    input_shape: tuple[int, int, int] | None  # (C, H, W) it was built for
    params: int | None  # architecture.json's totals
    macs: int | None

    def require_record(self) -> tuple[tuple[int, int, int], int, int]:
        """(input shape, params, MACs); UserError when architecture.json lacks them."""
        if self.input_shape is None or self.params is None or self.macs is None:
            raise UserError(
                f"{self.path / RECORD_FILE}: missing or unreadable",
                hint="rebuild the folder with specc build",
            )
        return self.input_shape, self.params, self.macs


def open_folder(path: str | Path) -> GeneratedFolder:
    """The generated folder at `path` (or the folder of a model.py); UserError naming what
    is missing. A build of it that a kill interrupted is finished first (under the build
    lock), so a reader sees one complete build; UserError with the repair if it cannot."""
    path = Path(path)
    folder = path.parent if path.name == MODEL_FILE and path.is_file() else path
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder", hint="build it with specc build first")
    settle_folder(folder)
    source = folder / MODEL_FILE
    if not source.is_file():
        raise UserError(
            f"{folder}: not a generated folder (no {MODEL_FILE})",
            hint="build it with specc build first",
        )
    shape, params, macs = _read_record(folder / RECORD_FILE)
    return GeneratedFolder(folder, source, shape, params, macs)


def settle_folder(folder: Path) -> None:
    """Finish a build of `folder` that a kill interrupted (`specc.build.folder.settle`);
    UserError naming the repair when it cannot. Every reader of a folder calls this first."""
    try:
        settle(folder)
    except SpecError as error:
        first = error.diagnostics[0]
        raise UserError(f"{folder}: {first.message}", hint=first.hint) from None


def _read_record(path: Path) -> tuple[tuple[int, int, int] | None, int | None, int | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        channels, height, width = (int(n) for n in data["input"])
        return (channels, height, width), int(data["totals"]["params"]), int(data["totals"]["macs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None, None


# --- weights and checkpoints ---------------------------------------------------------------


def read_checkpoint(path: str | Path) -> Any:
    """The content of a checkpoint file, loaded on the CPU without unpickling code
    (`weights_only`); UserError for a missing, unreadable or unsafe file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for corrupt, truncated or unsafe files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a loadable checkpoint ({first})") from None


def state_dict_of(data: Any, path: str | Path, *, ema: bool = False) -> dict[str, torch.Tensor]:
    """The state dict in a checkpoint's content `data` (see the accepted layouts above)."""
    keys = EMA_KEYS if ema else RAW_KEYS + EMA_KEYS  # a file with EMA weights only: those
    found = None
    if _is_state_dict(data) and not ema:
        found = data
    elif isinstance(data, Mapping):
        for key in keys:
            value = data.get(key)
            if isinstance(value, Mapping) and _is_state_dict(value.get("module")):
                value = value["module"]  # specc's EMA state: {"module": ..., "num_updates"}
            if _is_state_dict(value):
                found = value
                break
    if found is None:
        if ema and isinstance(data, Mapping) and data.get("ema", "") is None:
            raise UserError(f"{path}: this run kept no EMA weights (model_ema was off)")
        what = (
            "EMA weights (state_dict_ema, or a specc checkpoint's ema)" if ema else "a state dict"
        )
        raise UserError(f"{path}: holds no {what} of named tensors")
    return dict(found)


def _is_state_dict(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def read_weights(path: str | Path, *, ema: bool = False) -> dict[str, torch.Tensor]:
    """A state dict from a weights file or checkpoint of any accepted layout; `ema` takes
    the EMA weights a training checkpoint (or timm's) holds."""
    return state_dict_of(read_checkpoint(path), path, ema=ema)


def architecture_hash(model: nn.Module) -> str:
    """sha256 of every state-dict name and shape: what a checkpoint records as the model it
    belongs to (`identity.model_sha256`)."""
    layout = "\n".join(f"{name} {tuple(t.shape)}" for name, t in model.state_dict().items())
    return hashlib.sha256(layout.encode()).hexdigest()


def load_weights(
    model: nn.Module, path: str | Path, *, ema: bool = False, source: str = ""
) -> None:
    """Load `path` into `model` strictly; a UserError that says how they differ (names
    missing and unexpected, shapes, the architecture a specc checkpoint was written for)
    instead of PyTorch's raw message. `source` names the model in messages."""
    data = read_checkpoint(path)
    state = state_dict_of(data, path, ema=ema)
    problems = mismatches(model.state_dict(), state)
    if not problems:
        model.load_state_dict(state, strict=True)
        return
    message = f"{path} does not fit {source or 'the model'}{_written_for(data, model)}"
    raise UserError(
        message,
        details=problems,
        hint="load the weights of this folder's own runs, or map other weights with "
        "`specc weights import`",
    )


def _written_for(data: Any, model: nn.Module) -> str:
    """': it was written for another architecture (hashes; what it was built as)' when a
    specc checkpoint records one, else ''."""
    identity = data.get("identity") if isinstance(data, Mapping) else None
    if not isinstance(identity, Mapping) or not isinstance(identity.get("model_sha256"), str):
        return ""
    there, here = identity["model_sha256"], architecture_hash(model)
    if there == here:
        return ""
    built = f", built as {identity['built']}" if identity.get("built") else ""
    return f": it was written for another architecture ({there[:12]}{built}; {here[:12]} here)"


def mismatches(expected: Mapping[str, torch.Tensor], given: Mapping[str, Any]) -> list[str]:
    """How a state dict differs from the model's, briefly: counts and the first names."""
    missing = [name for name in expected if name not in given]
    unexpected = [name for name in given if name not in expected]
    shapes = [
        f"{name}: {tuple(given[name].shape)} in the file, {tuple(t.shape)} in the model"
        for name, t in expected.items()
        if name in given and tuple(given[name].shape) != tuple(t.shape)
    ]
    problems = []
    for label, names in (("missing", missing), ("unexpected", unexpected)):
        if names:
            shown = ", ".join(names[:MAX_LISTED]) + (", ..." if len(names) > MAX_LISTED else "")
            problems.append(f"{len(names)} {label} tensor(s): {shown}")
    if shapes:
        more = f" (and {len(shapes) - MAX_LISTED} more)" if len(shapes) > MAX_LISTED else ""
        problems.append(f"{len(shapes)} of another shape: " + "; ".join(shapes[:MAX_LISTED]) + more)
    return problems


# --- networks ---------------------------------------------------------------------------------


def load_model(
    folder: str | Path | GeneratedFolder,
    weights: str | Path | None = None,
    *,
    ema: bool = False,
    fuse: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """The network of a generated folder (`kwargs` go to its constructor, e.g. num_classes),
    with `weights` loaded strictly (any accepted layout; a bare file name not found from the
    working directory is looked up in the folder), fused for inference on request (then in
    eval mode). UserError for anything a user can fix."""
    opened = folder if isinstance(folder, GeneratedFolder) else open_folder(folder)
    model = instantiate_folder(opened, **kwargs)
    if weights is not None:
        path = Path(weights)
        if not path.exists() and (opened.path / path).is_file():
            path = opened.path / path
        load_weights(model, path, ema=ema, source=str(opened.source))
    if fuse:
        fuse_method = getattr(model, "fuse", None)
        if not callable(fuse_method):
            raise UserError(f"{opened.source}: no fuse() method", hint="rebuild the folder")
        fuse_method()
    return model


def model_class(opened: GeneratedFolder) -> type[nn.Module]:
    """The network class of a folder's model.py (its `__all__[0]`)."""
    try:
        module = load_file(opened.source)
        cls: type[nn.Module] = getattr(module, module.__all__[0])
    except Exception as error:  # a broken or foreign model.py: say so, no traceback
        raise UserError(f"{opened.source}: cannot load the network: {error}") from None
    return cls


def instantiate_folder(opened: GeneratedFolder, **kwargs: Any) -> nn.Module:
    cls = model_class(opened)
    try:
        return cls(**kwargs)
    except Exception as error:
        raise UserError(f"{opened.source}: cannot instantiate {cls.__name__}: {error}") from None


def load_source(source: str, name: str | None = None) -> types.ModuleType:
    """Execute generated source as a module registered in `sys.modules`."""
    name = name or "specc_generated_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    module = types.ModuleType(name)
    module.__file__ = f"<specc:{name}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def load_file(path: str | Path) -> types.ModuleType:
    """Execute a model.py (or a folder's) as a fresh module named after its path."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(f"specc_generated_{digest}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def instantiate(source: Any, **kwargs: Any) -> Any:
    """An instance of the network in `source`: generated text, a model.py, its folder,
    or an Architecture (emitted on the fly)."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source):
        module = load_file(source)
    elif isinstance(source, str):
        module = load_source(source)
    else:
        from specc.emit.pytorch.emit import emit_pytorch

        module = load_source(emit_pytorch(source))
    return getattr(module, module.__all__[0])(**kwargs)
