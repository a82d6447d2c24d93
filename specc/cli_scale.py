"""CLI commands for working with scaled families: weight import, coefficient search, budget fit.

Thin click shells over `specc.runtime.weights`, `specc.tools.search` and `specc.tools.fit`;
each imports what it needs inside the command, so `specc build` stays light.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

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
@click.option("--step", type=float, default=0.05, show_default=True, help="grid step")
@click.option(
    "--target",
    type=float,
    default=2.0,
    show_default=True,
    help="alpha * beta^2 * gamma^2 to aim for",
)
@click.option(
    "--tolerance",
    type=float,
    default=0.1,
    show_default=True,
    help="how far the product may be from the target",
)
@click.option(
    "--eval",
    "command",
    metavar="'COMMAND {config}'",
    help="rank candidates by running this per candidate (no shell)",
)
@click.option(
    "--metric",
    default="metric",
    show_default=True,
    help="key of the metric in the command's last JSON output line",
)
@click.option("--minimize", is_flag=True, help="lower metric is better (a loss)")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True)
@click.option("--timeout", type=float, help="seconds per evaluation")
@click.option(
    "--results",
    type=click.Path(dir_okay=False, path_type=Path),
    help="append results here (.csv or .jsonl); default search-<name>.jsonl with --eval",
)
@click.option("--retry-failed", is_flag=True, help="re-run candidates recorded as failed")
@click.option(
    "--write",
    "write_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write a copy of SPEC with the best candidate's coefficients",
)
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a field")
@click.option("--json", "as_json", is_flag=True, help="print the ranked rows as JSON")
@_reports_errors
def search(
    spec: Path,
    step: float,
    target: float,
    tolerance: float,
    command: str | None,
    metric: str,
    minimize: bool,
    jobs: int,
    timeout: float | None,
    results: Path | None,
    retry_failed: bool,
    write_to: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Search alpha, beta, gamma for SPEC's compound scaling (the paper's step 1)."""
    from specc.tools import search as tool

    if command is not None and "{config}" not in command:
        raise click.BadParameter("the command needs a {config} placeholder", param_hint="--eval")
    try:
        candidates = tool.grid(step, target, tolerance)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--step/--target/--tolerance") from None
    if not candidates:
        raise click.UsageError(
            f"no alpha, beta, gamma >= 1 on a {step:g} grid has alpha*beta^2*gamma^2 within "
            f"{tolerance:g} of {target:g}: widen --tolerance or refine --step"
        )
    from specc import api

    loaded = api.load(spec, overrides)
    rows = _measure_with_progress(tool, loaded, candidates)
    if command is not None:
        rows = _evaluate(
            tool,
            loaded,
            rows,
            command,
            metric,
            timeout,
            jobs,
            results or Path(f"search-{loaded.spec.name}.jsonl"),
            retry_failed,
        )
    elif results is not None:
        store = tool.ResultsFile(results)
        for row in rows:
            store.append(row)
    ranked = tool.rank(rows, target, evaluated=command is not None, minimize=minimize)
    if as_json:
        click.echo(json.dumps([{k: getattr(r, k) for k in tool.FIELDS} for r in ranked], indent=2))
    else:
        _print_search(ranked, target, evaluated=command is not None, metric=metric)
    if write_to is not None:
        _write_best(loaded, ranked[0], write_to)


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _measure_with_progress(tool: Any, loaded: Any, candidates: list[Any]) -> list[Any]:
    with _progress() as progress:
        task = progress.add_task("compiling candidates at phi = 1", total=len(candidates))
        return list(tool.measure(loaded, candidates, lambda: progress.advance(task)))


def _evaluate(
    tool: Any,
    loaded: Any,
    rows: list[Any],
    command: str,
    metric: str,
    timeout: float | None,
    jobs: int,
    path: Path,
    retry_failed: bool,
) -> list[Any]:
    progress = _progress()
    evaluator = tool.Evaluator(command, metric, timeout)

    def start(total: int) -> Any:
        task = progress.add_task(f"evaluating ({jobs} jobs)", total=total)
        return lambda result: progress.advance(task)

    with progress:
        run = tool.evaluate_all(loaded, rows, evaluator, path, jobs=jobs,
                                retry_failed=retry_failed, progress=start)  # fmt: skip
    if run.resumed:
        click.echo(f"resuming from {path}: {run.resumed} candidates already evaluated", err=True)
    for row in run.failed:
        click.echo(f"warning: {row.key} failed: {row.error}", err=True)
    return list(run.rows)


def _print_search(rows: list[Any], target: float, *, evaluated: bool, metric: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 140
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    columns = [
        "rank",
        "alpha",
        "beta",
        "gamma",
        "a*b^2*g^2",
        "resolution",
        "params",
        "GMACs",
        "MACs ratio",
    ] + ([metric, "status"] if evaluated else [])
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for index, r in enumerate(rows, 1):
        cells = [
            str(index),
            f"{r.alpha:g}",
            f"{r.beta:g}",
            f"{r.gamma:g}",
            f"{r.product:.4f}",
            str(r.resolution),
            f"{r.params:,}",
            f"{r.macs / 1e9:.3f}",
            f"{r.macs_ratio:.3f}",
        ]
        if evaluated:
            cells += ["" if r.metric is None else f"{r.metric:g}", r.status]
        table.add_row(*cells)
    order = f"by {metric}" if evaluated else f"by how close the built MACs ratio is to {target:g}"
    console.print(f"{len(rows)} candidates at phi = 1, ranked {order}")
    console.print(table)


def _write_best(loaded: Any, best: Any, path: Path) -> None:
    from specc.tools.search import write_spec_with

    kept = write_spec_with(loaded, best, path)
    note = "" if kept else " (the spec had no coefficients block: re-dumped, comments lost)"
    coefficients = f"alpha {best.alpha:g}, beta {best.beta:g}, gamma {best.gamma:g}"
    click.echo(f"wrote {path} with {coefficients}{note}")


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
