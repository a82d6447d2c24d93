"""`specc fit`: the largest phi within a MACs, parameter or latency budget (a thin shell
over `specc.tools.fit`; torch only for --target-latency)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from specc.cli.common import Size, reports_errors


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target-macs", type=float, help="MACs budget, e.g. 16.7e9")
@click.option("--target-params", type=float, help="parameter budget, e.g. 60e6")
@click.option("--target-latency", type=float, metavar="MS", help="measured latency budget, ms")
@click.option(
    "--target-train-memory",
    type=Size(),
    metavar="SIZE",
    help="predicted peak training memory at --batch, e.g. 24GiB (no torch)",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="where latency is measured",
)
@click.option(
    "--batch",
    type=click.IntRange(1),
    help="latency batch (default 1); training batch for --target-train-memory (default: "
    "train.yaml's)",
)
@click.option("--compile", "use_compile", is_flag=True, help="measure under torch.compile")
@click.option(
    "--latency-cache",
    type=click.Path(dir_okay=False, path_type=Path),
    help="measurement cache (default $XDG_CACHE_HOME/specc/latency.json)",
)
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a field")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
@reports_errors
def fit(
    spec: Path,
    target_macs: float | None,
    target_params: float | None,
    target_latency: float | None,
    target_train_memory: int | None,
    device: str,
    batch: int | None,
    use_compile: bool,
    latency_cache: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Find the largest phi whose built SPEC model fits a MACs, parameter, latency or
    training-memory budget."""
    targets = {
        "macs": target_macs, "params": target_params, "latency": target_latency,
        "train_memory": target_train_memory,
    }  # fmt: skip
    given = [(metric, budget) for metric, budget in targets.items() if budget is not None]
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --target-macs, --target-params, --target-latency and "
            "--target-train-memory"
        )
    (metric, budget), latency = given[0], None
    if metric != "latency" and (device != "cpu" or use_compile or latency_cache):
        raise click.UsageError("--device, --compile and --latency-cache need --target-latency")
    if metric in ("macs", "params") and batch is not None:
        raise click.UsageError("--batch needs --target-latency or --target-train-memory")
    from specc import api
    from specc.tools.fit import describe
    from specc.tools.fit import fit as fit_budget

    loaded = api.load(spec, overrides)
    if metric == "latency":
        latency = _latency_measure(device, batch or 1, use_compile, latency_cache)
        result = _fit_latency(loaded, budget, latency)
    elif metric == "train_memory":
        from specc.tools.fit import train_memory_measure

        batch = batch or loaded.spec.training.batch_size
        result = fit_budget(
            loaded, metric=metric, budget=budget, measure=train_memory_measure(batch)
        )
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
        if metric == "train_memory":
            data["batch"] = batch
            data["train_memory"] = arch.step_memory().to_dict(batch)
        click.echo(json.dumps(data, indent=2))
        return
    if metric == "train_memory":
        _print_train_memory(result, arch, batch or 1, int(budget))
        click.echo(f"build it: specc build {spec} --phi {result.phi:g}")
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


def _print_train_memory(result: Any, arch: Any, batch: int, budget: int) -> None:
    """Within 80 columns: the chosen phi's predicted peak and size, the next step's peak."""
    from specc.lang.sizes import format_bytes

    step = arch.step_memory()
    click.echo(
        f"phi = {result.phi:g}: peak {format_bytes(result.size(arch))} at batch {batch} "
        f"(budget {format_bytes(budget)}; {format_bytes(step.per_image)} per image)"
    )
    click.echo(
        f"  {arch.params:,} params, {arch.macs / 1e9:.3f} GMACs, resolution "
        f"{arch.resolved.resolution}, {step.setting.precision}"
    )
    nxt = result.next_arch
    above = "refused as absurdly large" if nxt is None else format_bytes(result.size(nxt))
    click.echo(f"next step at phi = {result.next_phi:.6g}: {above}, over the budget")


def _latency_measure(device: str, batch: int, use_compile: bool, cache_path: Path | None) -> Any:
    from specc.runtime.deploy.latency import LatencyCache, ModelLatency

    return ModelLatency(device, batch, use_compile, LatencyCache(cache_path))


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
