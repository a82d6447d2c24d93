"""CLI commands for working with scaled families: weight import and budget fit (the
coefficient search is `specc.cli_search`).

Thin click shells over `specc.runtime.weights` and `specc.tools.fit`;
each imports what it needs inside the command, so `specc build` stays light.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from specc.cli import _reports_errors, main


@main.group()
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
def import_(checkpoint: Path, folder: Path, out: Path | None) -> None:
    """Map a torchvision or timm CHECKPOINT onto a generated model, by structure.

    A classifier of another size stays freshly initialised and an RGB stem is adapted to
    the model's input channels (fine-tuning); the report says exactly which. Needs torch."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        click.echo("error: specc weights import needs torch: pip install 'specc[torch]'", err=True)
        sys.exit(1)
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
    for line in report.lines():
        click.echo(line)
    click.echo(f"wrote {target} (loads with strict=True)")


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target-macs", type=float, help="MACs budget, e.g. 16.7e9")
@click.option("--target-params", type=float, help="parameter budget, e.g. 60e6")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a field")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
@_reports_errors
def fit(
    spec: Path,
    target_macs: float | None,
    target_params: float | None,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Find the largest phi whose built SPEC model fits a MACs or parameter budget."""
    if (target_macs is None) == (target_params is None):
        raise click.UsageError("give exactly one of --target-macs and --target-params")
    from specc import api
    from specc.tools.fit import fit as fit_budget

    metric, budget = ("macs", target_macs) if target_macs is not None else ("params", target_params)
    assert budget is not None
    result = fit_budget(api.load(spec, overrides), metric=metric, budget=budget)
    arch, nxt = result.arch, result.next_arch
    if as_json:
        click.echo(
            json.dumps(
                {
                    "phi": result.phi,
                    "metric": metric,
                    "budget": budget,
                    "params": arch.params,
                    "macs": arch.macs,
                    "resolution": arch.resolved.resolution,
                    "next_phi": result.next_phi,
                    "next_size": None if nxt is None else result.size(nxt),
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"phi = {result.phi:g}: {arch.params:,} params, {arch.macs / 1e9:.3f} GMACs, "
        f"resolution {arch.resolved.resolution} (budget {budget:,.0f} {metric})"
    )
    above = "refused as absurdly large" if nxt is None else f"{result.size(nxt):,} {metric}"
    click.echo(f"next step at phi = {result.next_phi:.6g}: {above}, over the budget")
    click.echo(f"build it: specc build {spec} --phi {result.phi:g}")
