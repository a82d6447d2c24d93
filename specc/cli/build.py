"""`specc build`, `show`, `validate` and `schema`: the compiler's commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from specc.cli.common import Size, compile_spec, print_warnings, reports_errors, selector_options
from specc.diagnostics import Diagnostic, UserError


@click.command()
@selector_options
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="output folder (default generated/<name>-<selector>)",
)
@click.option(
    "--check", is_flag=True, help="write nothing; exit 1 if a generated file would change"
)
@reports_errors
def build(
    spec: Path,
    phi: float | None,
    preset: str | None,
    overrides: tuple[str, ...],
    allow_large: bool,
    as_json: bool,
    out: Path | None,
    check: bool,
) -> None:
    """Compile SPEC and write model.py, architecture.json, report.md and train.yaml."""
    from specc import api
    from specc.emit.summary import summary

    arch = compile_spec(spec, phi, preset, overrides, allow_large)
    print_warnings(arch.warnings)
    result = api.write(arch, out, check=check)
    for kept in result.kept:
        name, copy = kept.split(" -> ")
        click.echo(
            f"warning: {result.folder / name} was edited by hand since specc wrote it; the "
            f"edit is kept as {copy} (to keep a change across builds, put it in the spec's "
            "`training:` or pass `specc train --set`)",
            err=True,
        )
    if check:
        for line in result.changed:
            click.echo(line, err=True)
        if result.stale:
            raise UserError(
                f"{result.folder} is stale: run the build without --check "
                "(it replaces only the files specc generated; other files stay)"
            )
        if not as_json:
            click.echo(f"{result.folder} is up to date")
    outputs = [str(path) for path in result.files] if not check else []
    if as_json:
        click.echo(json.dumps(summary(arch, outputs), indent=2))
    elif not check:
        _print_summary(arch, outputs)


@click.command()
@selector_options
@click.option("--layers", is_flag=True, help="one row per layer: shapes, kernel, counts")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown"]),
    default="table",
    show_default=True,
    help="terminal table, or Markdown (report.md; with --layers the layer table)",
)
@click.option("--ir", "as_ir", is_flag=True, help="print the IR as text, one line per node")
@click.option(
    "--max-batch",
    "max_batch",
    type=Size(),
    metavar="SIZE",
    help="also print the largest training batch whose predicted peak fits SIZE (80GiB)",
)
@reports_errors
def show(
    spec: Path,
    phi: float | None,
    preset: str | None,
    overrides: tuple[str, ...],
    allow_large: bool,
    as_json: bool,
    layers: bool,
    fmt: str,
    as_ir: bool,
    max_batch: int | None,
) -> None:
    """Print the resolved architecture of SPEC; write nothing."""
    from specc.emit.summary import summary

    if as_json and fmt == "markdown":
        raise click.UsageError("--json and --format markdown exclude each other; give one")
    if as_ir and (as_json or layers or fmt != "table"):
        raise click.UsageError(
            "--ir prints the IR as text; it takes no --json, --layers or --format"
        )
    arch = compile_spec(spec, phi, preset, overrides, allow_large)
    print_warnings(arch.warnings)
    if as_ir:
        click.echo(arch.ir_text(), nl=False)
    elif as_json:
        data = summary(arch, [])
        if max_batch is not None:
            step = arch.step_memory()
            fits = step.max_batch(max_batch)
            data["max_batch"] = {"budget": max_batch, "batch": fits, "peak": step.peak(fits)}
        if layers:
            data["layers"] = arch.layer_rows()
        click.echo(json.dumps(data, indent=2))
    elif fmt == "markdown":
        from specc.emit.markdown import layers_markdown, report_markdown

        click.echo(layers_markdown(arch) if layers else report_markdown(arch), nl=False)
    elif layers:
        from specc.emit.layers import print_layers

        print_layers(arch)
    else:
        _print_summary(arch, [], max_batch)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a field")
@click.option(
    "--strict",
    is_flag=True,
    help="also build each generated module (torch, meta device) and check every layer's "
    "parameters and output shape against the IR",
)
@reports_errors
def validate(spec: Path, overrides: tuple[str, ...], strict: bool) -> None:
    """Check SPEC: schema, the baseline and every preset compile to a valid graph."""
    from specc import api

    warnings: list[Diagnostic] = []
    checked = api.validate_spec(spec, overrides, warnings=warnings, strict=strict)
    print_warnings(warnings)
    click.echo(f"{spec}: ok ({', '.join(checked)})")


@click.command()
def schema() -> None:
    """Print the JSON Schema of the spec language."""
    from specc.lang.schema import Spec

    click.echo(json.dumps(Spec.model_json_schema(), indent=2))


def _print_summary(arch: Any, outputs: list[str], budget: int | None = None) -> None:
    from specc.emit.summary import print_summary

    print_summary(arch, outputs, budget)
