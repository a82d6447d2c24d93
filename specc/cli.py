"""The `specc` command line: a thin click shell over `specc.api`.

Exit codes: 0 success; 1 a problem with the input (spec, selector, output folder) or a
stale generated folder under `--check`; 2 a usage error (click's convention). User errors
print located diagnostics on stderr, never a traceback. No torch is imported here.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from specc import __version__
from specc.diagnostics import Diagnostic, SpecError, unique

F = TypeVar("F", bound=Callable[..., Any])


class Phi(click.ParamType):  # type: ignore[type-arg]
    """A finite float; NaN and infinities are usage errors."""

    name = "FLOAT"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"phi must be a finite number, got {value!r}", param, ctx)
        return number


def print_warnings(warnings: list[Diagnostic]) -> None:
    """`warning: file:line:col: path: message` on stderr, each once (never on stdout)."""
    for diagnostic in unique(warnings):
        click.echo(f"{diagnostic.severity}: {diagnostic}", err=True)


def _reports_errors(command: F) -> F:
    """Print SpecError diagnostics and exit 1 instead of raising."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SpecError as error:
            for diagnostic in error.diagnostics:
                click.echo(f"{diagnostic.severity}: {diagnostic}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _selector_options(command: F) -> F:
    options = [
        click.argument("spec", type=click.Path(dir_okay=False, path_type=Path)),
        click.option("--phi", type=Phi(), help="compound coefficient (any finite float)"),
        click.option("--preset", metavar="NAME", help="a preset of the spec (e.g. b6)"),
        click.option(
            "--set",
            "overrides",
            multiple=True,
            metavar="PATH=VALUE",
            help="override a spec field (YAML scalar); repeatable",
        ),
        click.option("--allow-large", is_flag=True, help="build even absurdly large models"),
        click.option("--json", "as_json", is_flag=True, help="print one JSON document only"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _compile(
    spec: Path, phi: float | None, preset: str | None, overrides: tuple[str, ...], allow_large: bool
) -> Any:
    if phi is not None and preset is not None:
        raise click.UsageError("--phi and --preset exclude each other; give one")
    from specc.spec.types import is_preset_name

    if preset is not None and not is_preset_name(preset):
        raise click.BadParameter(
            f"{preset!r} is not a preset name (lowercase letters, digits and underscores, "
            "at most 32 characters)",
            param_hint="--preset",
        )
    for text in overrides:
        if "=" not in text:
            raise click.BadParameter(f"{text!r}: expected PATH=VALUE", param_hint="--set")
    from specc import api

    return api.compile(spec, phi=phi, preset=preset, overrides=overrides, allow_large=allow_large)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="specc")
def main() -> None:
    """specc: compile declarative ConvNet specs with compound scaling."""
    from specc.textout import ascii_fallback

    ascii_fallback()


@main.command()
@_selector_options
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="output folder (default generated/<name>-<selector>)",
)
@click.option(
    "--check", is_flag=True, help="write nothing; exit 1 if a generated file would change"
)
@_reports_errors
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
    from specc.backends.report import summary

    arch = _compile(spec, phi, preset, overrides, allow_large)
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
            click.echo(
                f"{result.folder} is stale: run the build without --check "
                "(it replaces only the files specc generated; other files stay)",
                err=True,
            )
            sys.exit(1)
        if not as_json:
            click.echo(f"{result.folder} is up to date")
    outputs = [str(path) for path in result.files] if not check else []
    if as_json:
        click.echo(json.dumps(summary(arch, outputs), indent=2))
    elif not check:
        _print_summary(arch, outputs)


@main.command()
@_selector_options
@click.option("--layers", is_flag=True, help="one row per layer: shapes, kernel, counts")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown"]),
    default="table",
    show_default=True,
    help="terminal table, or Markdown (report.md; with --layers the layer table)",
)
@_reports_errors
def show(
    spec: Path,
    phi: float | None,
    preset: str | None,
    overrides: tuple[str, ...],
    allow_large: bool,
    as_json: bool,
    layers: bool,
    fmt: str,
) -> None:
    """Print the resolved architecture of SPEC; write nothing."""
    from specc.backends.report import summary

    if as_json and fmt == "markdown":
        raise click.UsageError("--json and --format markdown exclude each other; give one")
    arch = _compile(spec, phi, preset, overrides, allow_large)
    print_warnings(arch.warnings)
    if as_json:
        data = summary(arch, [])
        if layers:
            data["layers"] = arch.layer_rows()
        click.echo(json.dumps(data, indent=2))
    elif fmt == "markdown":
        from specc.backends.markdown import layers_markdown, report_markdown

        click.echo(layers_markdown(arch) if layers else report_markdown(arch), nl=False)
    elif layers:
        from specc.backends.layers import print_layers

        print_layers(arch)
    else:
        _print_summary(arch, [])


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a field")
@_reports_errors
def validate(spec: Path, overrides: tuple[str, ...]) -> None:
    """Check SPEC: schema, the baseline and every preset compile to a valid graph."""
    from specc import api

    warnings: list[Diagnostic] = []
    checked = api.validate_spec(spec, overrides, warnings=warnings)
    print_warnings(warnings)
    click.echo(f"{spec}: ok ({', '.join(checked)})")


@main.command()
def schema() -> None:
    """Print the JSON Schema of the spec language."""
    from specc.spec.schema import Spec

    click.echo(json.dumps(Spec.model_json_schema(), indent=2))


def _print_summary(arch: Any, outputs: list[str]) -> None:
    from specc.backends.report import print_summary

    print_summary(arch, outputs)


# Commands defined in their own modules register themselves on `main` when imported; each
# imports its heavy dependencies inside the command, so these imports stay cheap.
from specc import cli_deploy, cli_inspect, cli_scale, cli_search, cli_train  # noqa: E402,F401
