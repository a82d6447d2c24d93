"""The Python API; the CLI is a thin shell over these functions.

    load(path, overrides)            -> LoadedSpec (validated spec with its source locations)
    compile(spec, phi=, preset=)     -> Architecture (resolved, lowered, validated, analysed)
    emit_pytorch(arch)               -> str, the model.py source
    render(arch)                     -> {file name: text} of a generated folder
    write(arch, folder, check=)      -> WriteResult (atomic; check compares only)
    instantiate(source, **kwargs)    -> torch.nn.Module (imports torch)

Every user error raises `specc.SpecError` with located diagnostics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from specc.architecture import Architecture
from specc.backends.pytorch.emit import emit_pytorch
from specc.compiler import compile_spec
from specc.output import WriteResult, default_folder, render
from specc.output import write as _write
from specc.scaling.resolve import Selector
from specc.spec.load import LoadedSpec
from specc.spec.load import load as _load

Overrides = Iterable[str] | Mapping[str, Any]

__all__ = ["compile", "emit_pytorch", "instantiate", "load", "render", "write"]


def load(path: str | Path, overrides: Overrides = ()) -> LoadedSpec:
    """Load and validate a spec file, applying `dotted.path=value` overrides."""
    return _load(path, overrides)


def compile(
    spec: LoadedSpec | str | Path,
    *,
    phi: float | None = None,
    preset: str | None = None,
    overrides: Overrides = (),
    allow_large: bool = False,
) -> Architecture:
    """Compile a spec (a LoadedSpec or a path) with phi or a preset (phi = 0 if neither)."""
    loaded = spec if isinstance(spec, LoadedSpec) else _load(spec, overrides)
    return compile_spec(loaded, Selector(phi=phi, preset=preset), allow_large=allow_large)


def write(
    arch: Architecture, folder: str | Path | None = None, *, check: bool = False
) -> WriteResult:
    """Write (or with `check`, compare) the generated folder; default generated/<label>."""
    return _write(arch, folder if folder is not None else default_folder(arch), check=check)


def instantiate(source: Architecture | str | Path, **kwargs: Any) -> Any:
    """The generated network as a torch module (imports torch)."""
    from specc.runtime.module import instantiate as _instantiate

    return _instantiate(source, **kwargs)


def validate_spec(path: str | Path, overrides: Overrides = ()) -> list[str]:
    """Load a spec and compile its baseline and every preset; returns what was checked."""
    loaded = _load(path, overrides)
    selectors = [Selector(), *(Selector(preset=name) for name in sorted(loaded.spec.presets))]
    for selector in selectors:
        compile_spec(loaded, selector, nearest_preset=False)
    return [f"{len(loaded.spec.stages)} stages", f"{len(loaded.spec.presets)} presets compile"]


__all__ += ["emit_pytorch", "render", "validate_spec"]
