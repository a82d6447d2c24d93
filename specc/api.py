"""The Python API; the CLI is a thin shell over these functions.

    load(path, overrides)            -> LoadedSpec (validated spec with its source locations)
    compile(spec, phi=, preset=)     -> Architecture (resolved, lowered, validated, analysed)
    emit_pytorch(arch)               -> str, the model.py source
    render(arch)                     -> {file name: text} of a generated folder
    write(arch, folder, check=)      -> WriteResult (atomic; check compares only)
    instantiate(source, **kwargs)    -> torch.nn.Module (imports torch)
    load_model(folder, weights=None) -> torch.nn.Module of a generated folder (imports torch)
    diff(a, b)                       -> Diff of two specs-with-selectors or generated folders
    sweep(spec, phis)                -> [SweepPoint] over a phi range and the presets
    report_markdown(arch)            -> str, report.md
    export_graph(arch, format)       -> str, the IR graph as DOT or node-link JSON
    export(folder, format, ...)      -> ExportResult: verified ONNX / torch.export artefact

Every user error raises `specc.SpecError` with located diagnostics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specc.build.architecture import Architecture
from specc.build.driver import compile_spec
from specc.build.folder import WriteResult, default_folder
from specc.build.folder import write as _write
from specc.diagnostics import Diagnostic
from specc.emit import jsonfmt
from specc.emit.files import render
from specc.emit.pytorch.emit import emit_pytorch
from specc.lang.load import LoadedSpec
from specc.lang.load import load as _load
from specc.scaling.selector import Selector

if TYPE_CHECKING:
    from specc.tools.diff import Diff
    from specc.tools.operands import Operand
    from specc.tools.sweep import SweepPoint

Overrides = Iterable[str] | Mapping[str, Any]

__all__ = [
    "compile", "diff", "emit_pytorch", "export", "export_graph", "instantiate", "load",
    "load_model", "render", "report_markdown", "sweep", "validate_spec", "write",
]  # fmt: skip


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
    target = folder if folder is not None else default_folder(arch.label)
    return _write(render(arch), target, check=check)


def instantiate(source: Architecture | str | Path, **kwargs: Any) -> Any:
    """The generated network as a torch module (imports torch)."""
    from specc.runtime.model import instantiate as _instantiate

    return _instantiate(source, **kwargs)


def load_model(
    folder: str | Path, weights: str | Path | None = None, *, ema: bool = False, **kwargs: Any
) -> Any:
    """The network of a generated folder (any folder name, hyphens included) as a torch
    module, with `weights` loaded strictly when given: a state dict (`weights.pt` from
    `specc weights import`), a training checkpoint (`last.pt`, `best.pt`) or timm's and
    torchvision's checkpoint layouts; `ema=True` loads a checkpoint's EMA weights. A path
    not found from the working directory is tried inside the folder. `kwargs` go to the
    constructor (e.g. num_classes). Imports torch.

    Raises `specc.UserError` naming the problem: no such folder or model.py, an unreadable
    file, weights that do not fit (which tensors, and how)."""
    from specc.runtime.model import load_model as _load_model

    return _load_model(folder, weights, ema=ema, **kwargs)


def validate_spec(
    path: str | Path,
    overrides: Overrides = (),
    *,
    warnings: list[Diagnostic] | None = None,
    strict: bool = False,
) -> list[str]:
    """Load a spec and compile its baseline and every preset; returns what was checked.
    Warnings of every compile are appended to `warnings` when given (with repeats).

    `strict` also builds each one's generated module (on torch's meta device: imports
    torch) and checks every IR node's parameters and output shape against the module of
    its path (`specc.runtime.conformance`); raises UserError listing the disagreements."""
    loaded = _load(path, overrides)
    selectors = [Selector(), *(Selector(preset=name) for name in sorted(loaded.spec.presets))]
    for selector in selectors:
        arch = compile_spec(loaded, selector, nearest_preset=False)
        if warnings is not None:
            warnings.extend(arch.warnings)
        if strict:
            from specc.runtime.conformance import check_module

            check_module(arch, f"{path} ({selector.describe()})")
    stages, presets = len(loaded.spec.stages), len(loaded.spec.presets)
    return [
        f"{stages} stage{'s' if stages != 1 else ''}",
        f"{presets} preset{'s' if presets != 1 else ''} compile{'s' if presets == 1 else ''}",
        *(["modules match the IR"] if strict else []),
    ]


def diff(a: str | Path | Operand, b: str | Path | Operand, *, allow_large: bool = False) -> Diff:
    """Compare two architectures, each a generated folder or `SPEC[@ITEM,...]` with items
    phi=X, preset=NAME, PATH=VALUE (see `specc.tools.operands`); `.same`, `.changes`."""
    from specc.tools.diff import diff as _diff
    from specc.tools.operands import Operand, open_operand

    left, right = (
        side if isinstance(side, Operand) else open_operand(str(side), allow_large=allow_large)
        for side in (a, b)
    )
    return _diff(left, right)


def sweep(
    spec: LoadedSpec | str | Path,
    phis: Iterable[float] | str = "0:8",
    *,
    presets: bool = True,
    overrides: Overrides = (),
    allow_large: bool = False,
) -> list[SweepPoint]:
    """Compile `spec` at each phi (`"0:8:0.5"` or numbers) and at each of its presets."""
    from specc.tools.sweep import phi_range
    from specc.tools.sweep import sweep as _sweep

    loaded = spec if isinstance(spec, LoadedSpec) else _load(spec, overrides)
    points = phi_range(phis) if isinstance(phis, str) else list(phis)
    return _sweep(loaded, points, presets=presets, allow_large=allow_large)


def report_markdown(arch: Architecture) -> str:
    """report.md of the generated folder: stage table, totals, rounding rules, nearest preset."""
    from specc.emit.markdown import report_markdown as _report

    return _report(arch)


def export_graph(arch: Architecture, format: str = "dot") -> str:
    """The validated IR graph as Graphviz DOT (`dot`) or node-link JSON (`json`)."""
    from specc.emit.graph import to_dot, to_node_link

    if format == "dot":
        return to_dot(arch)
    if format == "json":
        return jsonfmt.dumps(to_node_link(arch)) + "\n"
    raise ValueError(f"format must be 'dot' or 'json', got {format!r}")


def export(
    folder: str | Path,
    format: str = "onnx",
    *,
    weights: str | Path | None = None,
    out: str | Path | None = None,
    batch: int | str = 1,
    opset: int | None = None,
    fuse: bool = False,
    ema: bool = False,
) -> Any:
    """Export a generated folder's model as ONNX or a torch.export program, run the artefact
    beside eager PyTorch and write it only if they agree (see `specc.runtime.deploy.export`);
    returns an ExportResult; `ema=True` exports a training checkpoint's EMA weights. Raises
    `specc.UserError` (imports torch)."""
    from specc.runtime.deploy.export import export as _export

    return _export(
        folder, format, weights=weights, out=out, batch=batch, opset=opset, fuse=fuse, ema=ema
    )
