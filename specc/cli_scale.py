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
@click.option("--target-latency", type=float, metavar="MS", help="measured latency budget, ms")
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="where latency is measured",
)
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True, help="latency batch")
@click.option("--compile", "use_compile", is_flag=True, help="measure under torch.compile")
@click.option(
    "--latency-cache",
    type=click.Path(dir_okay=False, path_type=Path),
    help="measurement cache (default $XDG_CACHE_HOME/specc/latency.json)",
)
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a field")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
@_reports_errors
def fit(
    spec: Path,
    target_macs: float | None,
    target_params: float | None,
    target_latency: float | None,
    device: str,
    batch: int,
    use_compile: bool,
    latency_cache: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Find the largest phi whose built SPEC model fits a MACs, parameter or latency budget."""
    targets = {"macs": target_macs, "params": target_params, "latency": target_latency}
    given = [(metric, budget) for metric, budget in targets.items() if budget is not None]
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --target-macs, --target-params and --target-latency"
        )
    (metric, budget), latency = given[0], None
    if metric != "latency" and (device != "cpu" or batch != 1 or use_compile or latency_cache):
        raise click.UsageError(
            "--device, --batch, --compile and --latency-cache need --target-latency"
        )
    from specc import api
    from specc.tools.fit import describe
    from specc.tools.fit import fit as fit_budget

    loaded = api.load(spec, overrides)
    if metric == "latency":
        latency = _latency_measure(device, batch, use_compile, latency_cache)
        result = _fit_latency(loaded, budget, latency)
    else:
        result = fit_budget(loaded, metric=metric, budget=budget)
    arch, nxt = result.arch, result.next_arch
    if as_json:
        data = {
            "phi": result.phi, "metric": metric, "budget": budget, "params": arch.params,
            "macs": arch.macs, "resolution": arch.resolved.resolution,
            "next_phi": result.next_phi, "next_size": None if nxt is None else result.size(nxt),
        }  # fmt: skip
        if latency is not None:
            data.update(_latency_json(latency, arch, nxt))
        click.echo(json.dumps(data, indent=2))
        return
    size = f"{describe(result.size(arch), metric)}, " if metric == "latency" else ""
    click.echo(
        f"phi = {result.phi:g}: {size}{arch.params:,} params, {arch.macs / 1e9:.3f} GMACs, "
        f"resolution {arch.resolved.resolution} (budget {describe(budget, metric)})"
    )
    above = "refused as absurdly large" if nxt is None else describe(result.size(nxt), metric)
    click.echo(f"next step at phi = {result.next_phi:.6g}: {above}, over the budget")
    if latency is not None:
        _print_latency(latency, arch, nxt)
    click.echo(f"build it: specc build {spec} --phi {result.phi:g}")


def _latency_measure(device: str, batch: int, use_compile: bool, cache_path: Path | None) -> Any:
    from specc.runtime.inference import DeployError
    from specc.runtime.latency import LatencyCache, ModelLatency

    try:
        return ModelLatency(device, batch, use_compile, LatencyCache(cache_path))
    except DeployError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)


def _fit_latency(loaded: Any, budget: float, latency: Any) -> Any:
    from specc.tools.fit import fit as fit_budget

    # Noise makes sub-step precision meaningless; 1e-3 in phi needs ~10 measured models.
    return fit_budget(loaded, metric="latency", budget=budget, precision=1e-3,
                      measure=lambda arch: latency(arch).median_ms)  # fmt: skip


def _latency_json(latency: Any, arch: Any, nxt: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "device": latency.label, "batch": latency.batch, "compile": latency.compile,
        "timing": asdict(latency(arch)),
        "next_timing": None if nxt is None else asdict(latency(nxt)),
        "measured": latency.measured, "cache": str(latency.cache.path),
    }  # fmt: skip


def _print_latency(latency: Any, arch: Any, nxt: Any) -> None:
    click.echo(f"  chosen: {latency(arch).describe()}")
    if nxt is not None:
        click.echo(f"  next:   {latency(nxt).describe()}")
    where = f"{latency.label}, batch {latency.batch}" + (", compiled" if latency.compile else "")
    cached = len(latency.timings) - latency.measured
    click.echo(
        f"  fused model, {where}; {latency.measured} models measured, {cached} from the cache "
        f"({latency.cache.path})"
    )
