"""`specc weights import`: published weights onto a generated model (a thin shell over
`specc.runtime.weights`; torch is imported inside the command)."""

from __future__ import annotations

from pathlib import Path

import click

from specc.cli.common import reports_errors
from specc.diagnostics import UserError


@click.group()
def weights() -> None:
    """Move published weights onto generated models."""


@weights.command("import")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--into",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="a generated folder (holding model.py)",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="where to write the state dict (default FOLDER/weights.pt)",
)
@reports_errors
def import_(checkpoint: Path, folder: Path, out: Path | None) -> None:
    """Map a torchvision or timm CHECKPOINT onto a generated model, by structure.

    A classifier of another size stays freshly initialised and an RGB stem is adapted to
    the model's input channels (fine-tuning); the report says exactly which. Needs torch."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise UserError("specc weights import needs torch: pip install 'specc[torch]'")
    from specc.runtime.weights import import_checkpoint

    target, report = import_checkpoint(checkpoint, folder, out)
    first, last = report.source_names
    click.echo(
        f"mapped {report.tensors} tensors ({report.parameters:,} parameters, "
        f"{first} ... {last}) onto {folder / 'model.py'}"
    )
    for line in report.lines():
        click.echo(line)
    click.echo(f"wrote {target} (loads with strict=True)")
