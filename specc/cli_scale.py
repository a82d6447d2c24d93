"""CLI commands for working with scaled families: weight import, coefficient search, budget fit.

Thin click shells over `specc.runtime.weights`, `specc.tools.search` and `specc.tools.fit`;
each imports what it needs inside the command, so `specc build` stays light.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from specc.cli import main


@main.group()
def weights() -> None:
    """Move published weights onto generated models."""


@weights.command("import")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="a generated folder (holding model.py)")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="where to write the state dict (default FOLDER/weights.pt)")  # fmt: skip
def import_(checkpoint: Path, folder: Path, out: Path | None) -> None:
    """Map a torchvision or timm CHECKPOINT onto a generated model, by structure."""
    from specc.runtime.weights import WeightImportError, import_checkpoint

    try:
        target, report = import_checkpoint(checkpoint, folder, out)
    except WeightImportError as error:
        click.echo(f"error: cannot import {checkpoint} into {folder}:", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        click.echo("nothing was written", err=True)
        sys.exit(1)
    first, last = report.source_names
    click.echo(
        f"mapped {report.tensors} tensors ({report.parameters:,} parameters, "
        f"{first} ... {last}) onto {folder / 'model.py'}"
    )
    click.echo(f"wrote {target} (loads with strict=True)")
