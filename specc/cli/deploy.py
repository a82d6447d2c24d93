"""CLI commands for deployment: verified export and the inference benchmark.

Thin click shells over `specc.runtime.deploy.export` and `.bench`; torch, onnx and
onnxruntime are imported inside the commands, so `specc build` stays light. User problems
(a bad folder, weights, a missing extra, a mismatch past the tolerance) print one message
and exit 1; bad option values exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from specc.cli.common import reports_errors
from specc.diagnostics import UserError
from specc.emit.tables import macs_text


class BatchSize(click.ParamType):  # type: ignore[type-arg]
    """A positive integer or the word `dynamic`."""

    name = "N|dynamic"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | str:
        if value == "dynamic" or isinstance(value, int):
            return value  # type: ignore[no-any-return]
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither a positive integer nor 'dynamic'", param, ctx)
        if number < 1:
            self.fail(f"the batch must be at least 1, got {number}", param, ctx)
        return number


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx", "exported-program"]),
    default="onnx",
    show_default=True,
    help="ONNX (checked in onnxruntime) or a torch.export program (.pt2)",
)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), help="state dict")
@click.option("--ema", is_flag=True, help="--weights: a training checkpoint's EMA weights")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    help="artefact file (default FOLDER[-fused].onnx|.pt2, beside the folder)",
)
@click.option("--batch", type=BatchSize(), default="1", show_default=True)
@click.option("--opset", type=click.IntRange(7, 30), help="ONNX opset (default: torch's)")
@click.option("--fuse", is_flag=True, help="export the fused inference form (model.fuse())")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
@reports_errors
def export(
    folder: Path,
    fmt: str,
    weights: Path | None,
    ema: bool,
    out: Path | None,
    batch: int | str,
    opset: int | None,
    fuse: bool,
    as_json: bool,
) -> None:
    """Export the model of a generated FOLDER and check it against eager PyTorch."""
    check_export_paths(folder, weights, out, ema)  # before torch and onnx load
    from specc.runtime.deploy.export import export as run_export

    result = run_export(folder, fmt, weights=weights, out=out, batch=batch, opset=opset,
                        fuse=fuse, ema=ema)  # fmt: skip
    if as_json:
        data = {
            "path": str(result.path), "format": result.format, "batches": list(result.batches),
            "dynamic": result.dynamic, "max_abs_error": result.max_abs_error,
            "max_rel_error": result.max_rel_error, "tolerance": result.tolerance,
            "params": result.params, "macs": result.macs, "fused": result.fused,
            "ir_params": result.ir_params, "ir_macs": result.ir_macs,
        }  # fmt: skip
        click.echo(json.dumps(data, indent=2))
        return
    batches = "dynamic batch, checked at " if result.dynamic else "batch "
    batches += ", ".join(str(b) for b in result.batches)
    form = "fused model" if result.fused else "model"
    click.echo(
        f"{result.format} {form}: {result.params:,} params, {macs_text(result.macs)} MACs; "
        f"{batches}"
    )
    click.echo(
        f"max abs error {result.max_abs_error:.3g}, max relative error "
        f"{result.max_rel_error:.3g} (tolerance {result.tolerance:g}) against eager PyTorch"
    )
    if result.fused:
        click.echo(
            f"  the IR counts {result.ir_params:,} params, {macs_text(result.ir_macs)} MACs: "
            f"{result.ir_params - result.params:,} fewer params after folding each batch norm's "
            "weight and bias into a conv bias; MACs unchanged (bias adds are not counted)"
        )
    click.echo(f"wrote {result.path}")


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--reference", metavar="NAME", help="torchvision model to compare with")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--batch", "batches", default="1,8", show_default=True, help="comma-separated")
@click.option("--compile", "use_compile", is_flag=True, help="also time torch.compile")
@click.option("--no-onnx", is_flag=True, help="leave onnxruntime out")
@click.option("--rounds", type=click.IntRange(1), default=15, show_default=True)
@click.option("--iters", type=click.IntRange(1), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(1), help="CPU threads for torch and onnxruntime")
@click.option("--json", "as_json", is_flag=True, help="print the rows as JSON")
@reports_errors
def bench(
    folder: Path,
    reference: str | None,
    device: str,
    batches: str,
    use_compile: bool,
    no_onnx: bool,
    rounds: int,
    iters: int,
    threads: int | None,
    as_json: bool,
) -> None:
    """Time the model of a generated FOLDER: eager, fused, compiled, onnxruntime."""
    try:
        sizes = tuple(int(b) for b in batches.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{batches!r}: expected numbers like 1,8", param_hint="--batch"
        ) from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("batch sizes must be at least 1", param_hint="--batch")
    import torch

    from specc.runtime.deploy import bench as tool

    if threads:
        torch.set_num_threads(threads)
    onnx = not no_onnx and device == "cpu"
    if onnx:
        from specc.runtime.deploy.export import require_onnx

        try:
            require_onnx()
        except UserError as error:
            raise UserError(f"{error.message} (or pass --no-onnx)") from None
    config = tool.BenchConfig(device=device, batches=sizes, rounds=rounds, iters=iters,
                              compile=use_compile, onnx=onnx)  # fmt: skip
    rows = tool.bench_folder(folder, folder.name, reference, config)
    if as_json:
        click.echo(json.dumps([tool.row_json(row) for row in rows], indent=2))
        return
    click.echo(tool.markdown(rows), nl=False)
    counts = {row.candidate: (row.params, row.macs) for row in rows}
    for name in ("generated", "fused"):
        params, macs = counts[name]
        click.echo(f"{name}: {params:,} params, {macs_text(macs)} MACs per image")
    click.echo(f"{config.rounds} interleaved rounds of {config.iters} calls per candidate")


def check_export_paths(folder: Path, weights: Path | None, out: Path | None, ema: bool) -> None:
    """What `specc export` can refuse without torch: the folder, the weights, the target."""
    hint = "build it with specc build first"
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder", hint=hint)
    if not (folder / "model.py").is_file():
        raise UserError(f"{folder}: not a generated folder (no model.py)", hint=hint)
    if ema and weights is None:
        raise click.UsageError("--ema needs --weights (a training checkpoint)")
    if weights is not None and not weights.is_file() and not (folder / weights).is_file():
        raise UserError(f"--weights {weights}: no such file")
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        problem = "is a folder; give a file name" if out.is_dir() else "no such folder"
        raise UserError(f"{out if out.is_dir() else out.parent}: {problem}")
