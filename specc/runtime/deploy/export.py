"""Verified export of a generated model: ONNX (run in onnxruntime) or a torch.export program.

The artefact is written to a temporary sibling, loaded back and run on seeded random inputs
next to the eager module; only when its outputs agree within `TOLERANCE` is it renamed into
place. A failed export leaves nothing behind and never touches an existing file.

Agreement: max |exported - eager| / max |eager| over the logits (the "relative error"),
in fp32, at every checked batch size. With a dynamic batch the program is traced at batch 2
(torch.export specialises batch 1) and checked at batches 1 and 3.

ONNX needs the `export` extra (onnx, onnxscript for torch's exporter, onnxruntime).
Imports torch.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from specc.diagnostics import UserError
from specc.runtime.deploy.inference import count_macs, count_params
from specc.runtime.files import temporary_beside, terminate_raises
from specc.runtime.machine import require_input_fits
from specc.runtime.model import load_model, open_folder
from specc.tools.atomic import as_created

FORMATS = {"onnx": ".onnx", "exported-program": ".pt2"}
TOLERANCE = 1e-4  # relative: max abs error over max |eager output|, fp32
EXTRA_HINT = "pip install 'specc[export]' (onnx, onnxscript, onnxruntime)"
INPUT_NAME, OUTPUT_NAME = "images", "logits"

Runner = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ExportResult:
    path: Path  # the artefact (written only when verified)
    format: str
    batches: tuple[int, ...]  # the batch sizes checked against eager
    dynamic: bool
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    params: int  # of the exported module (fused: fewer than the IR's, see inference.py)
    macs: int  # per image
    ir_params: int  # architecture.json's, for comparison
    ir_macs: int
    fused: bool
    opset: int | None

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= self.tolerance


class ExportMismatch(UserError):
    """The artefact's outputs disagree with eager beyond the tolerance; nothing written."""

    def __init__(self, result: ExportResult) -> None:
        super().__init__(
            f"the exported model disagrees with eager PyTorch: max relative error "
            f"{result.max_rel_error:.3g} > tolerance {result.tolerance:g} "
            f"(max abs {result.max_abs_error:.3g}); {result.path} was not written"
        )
        self.result = result


def default_path(folder: Path, format: str, fused: bool) -> Path:
    """Beside the folder, not in it: a rebuild replaces the folder and `build --check`
    reports files it did not produce. generated/b0 -> generated/b0[-fused].onnx|.pt2."""
    folder = folder if folder.name else folder.resolve()
    return folder.with_name(folder.name + ("-fused" if fused else "") + FORMATS[format])


def export(
    folder: str | Path,
    format: str = "onnx",
    *,
    weights: str | Path | None = None,
    out: str | Path | None = None,
    batch: int | str = 1,
    opset: int | None = None,
    fuse: bool = False,
    tolerance: float = TOLERANCE,
    seed: int = 0,
    ema: bool = False,
) -> ExportResult:
    """Export the generated model in `folder` and verify it; returns the errors measured.

    `batch`: a fixed batch size, or "dynamic"; `ema`: the EMA weights of a training
    checkpoint `weights`. Raises UserError for user problems (bad
    folder, weights, format, missing extra) and ExportMismatch past `tolerance`.
    """
    if format not in FORMATS:
        raise UserError(f"unknown format {format!r}: choose {', '.join(FORMATS)}")
    dynamic = batch == "dynamic"
    if not dynamic and (not isinstance(batch, int) or batch < 1):
        raise UserError(f"batch must be a positive integer or 'dynamic', got {batch!r}")
    if format == "onnx":
        require_onnx()
    elif opset is not None:
        raise UserError("--opset applies to ONNX only")
    opened = open_folder(folder)
    shape, ir_params, ir_macs = opened.require_record()
    model = load_model(opened, weights, ema=ema, fuse=fuse).eval()
    target = Path(out) if out is not None else default_path(opened.path, format, fuse)
    if target.is_dir():
        raise UserError(f"{target}: is a folder; give a file name")
    if not target.parent.is_dir():
        raise UserError(f"{target.parent}: no such folder")

    trace_batch = 2 if dynamic else int(batch)
    checks = (1, 3) if dynamic else (int(batch),)
    require_input_fits(max(trace_batch, *checks), shape, f"--batch {batch}", "a smaller --batch")
    with terminate_raises(), temporary_beside(target, FORMATS[format]) as temp:
        example = torch.randn(trace_batch, *shape, generator=torch.Generator().manual_seed(seed))
        if format == "onnx":
            run = _export_onnx(model, example, dynamic, opset, temp)
        else:
            run = _export_program(model, example, dynamic, temp)
        abs_error, rel_error = _compare(model, run, shape, checks, seed)
        counts = (count_params(model), count_macs(model, shape), ir_params, ir_macs)
        result = ExportResult(target, format, checks, dynamic, abs_error, rel_error, tolerance,
                              *counts, fuse, opset)  # fmt: skip
        if not result.ok:
            raise ExportMismatch(result)
        as_created(temp)  # 0644 as other outputs, not mkstemp's 0600
        os.replace(temp, target)
        return result


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise UserError(f"ONNX export needs {error.name}: {EXTRA_HINT}") from None


def _dynamic_shapes(dynamic: bool) -> dict[str, dict[int, object]] | None:
    return {"x": {0: torch.export.Dim("batch", min=1)}} if dynamic else None


def _export_onnx(
    model: torch.nn.Module, example: torch.Tensor, dynamic: bool, opset: int | None, path: Path
) -> Runner:
    import onnxruntime

    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), torch.no_grad():
            program = torch.onnx.export(
                model, (example,), dynamo=True, opset_version=opset, verbose=False,
                dynamic_shapes=_dynamic_shapes(dynamic),
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            )  # fmt: skip
            assert program is not None
            program.save(str(path), external_data=False)  # one file; ONNX caps it at 2 GB
    except Exception as error:
        raise UserError(f"torch's ONNX exporter failed: {_first_line(error)}") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {INPUT_NAME: x.numpy()})[0])

    return run


def _export_program(
    model: torch.nn.Module, example: torch.Tensor, dynamic: bool, path: Path
) -> Runner:
    try:
        program = torch.export.export(model, (example,), dynamic_shapes=_dynamic_shapes(dynamic))
        torch.export.save(program, path)
    except Exception as error:
        raise UserError(f"torch.export failed: {_first_line(error)}") from None
    loaded = torch.export.load(path).module()
    return lambda x: loaded(x)


def _compare(
    model: torch.nn.Module, run: Runner, shape: tuple[int, ...], batches: tuple[int, ...], seed: int
) -> tuple[float, float]:
    """Max abs and relative error of `run` against eager over seeded inputs per batch."""
    generator = torch.Generator().manual_seed(seed + 1)
    abs_error = rel_error = 0.0
    with torch.no_grad():
        for batch in batches:
            x = torch.randn(batch, *shape, generator=generator)
            expected, actual = model(x), run(x)
            if actual.shape != expected.shape:
                raise UserError(
                    f"the exported model returned shape {tuple(actual.shape)} for batch "
                    f"{batch}, eager {tuple(expected.shape)}"
                )
            error = (actual.float() - expected).abs().max().item()
            scale = max(expected.abs().max().item(), 1e-12)
            abs_error, rel_error = max(abs_error, error), max(rel_error, error / scale)
    return abs_error, rel_error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
