"""The inspection commands `specc diff`, `specc sweep` and `specc graph`.

A thin click shell over `specc.api` (`diff`, `sweep`, `export_graph`) and the renderers in
`specc.tools.render`; `specc.cli` registers the commands. Everything
heavier than click is imported inside the commands, so `specc build` does not pay for it;
nothing here imports torch (matplotlib only for `sweep --plot`).

Exit codes: `diff` follows GNU diff: 0 the same, 1 different, 2 trouble (a bad operand or
spec, a missing or corrupt architecture.json, a usage error). `sweep` and `graph` follow
`build`: 0 success, 1 a problem with the input, 2 a usage error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from specc.cli.common import Phi, compile_spec, exits_with, reports_errors
from specc.diagnostics import UserError

DIFF_TROUBLE = 2  # GNU diff's exit code for trouble (0 same, 1 different)


@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--layers", is_flag=True, help="list added, removed and changed layers")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "unified"]),
    default="table",
    show_default=True,
    help="stage table and deltas, or a unified diff of the two model.py sources",
)
@click.option("--json", "as_json", is_flag=True, help="print the changes as one JSON document")
@click.option("--allow-large", is_flag=True, help="compile even absurdly large models")
@exits_with(DIFF_TROUBLE)
def diff(a: str, b: str, layers: bool, fmt: str, as_json: bool, allow_large: bool) -> None:
    """Compare two architectures, specs or generated folders.

    A and B are each a generated folder or SPEC[@ITEM,ITEM...], an ITEM being phi=X,
    preset=NAME or a --set override PATH=VALUE: specs/b0.yaml@phi=6,
    specs/b0.yaml@preset=b6,defaults.norm.eps=1e-5. Exit 0 if they build the same network,
    1 if not, 2 on trouble.
    """
    if fmt == "unified" and (as_json or layers):
        raise click.UsageError("--format unified compares model.py; it takes no --json or --layers")
    from specc import api

    result = api.diff(a, b, allow_large=allow_large)
    if fmt == "unified":
        lines = result.unified()
        sys.stdout.write("".join(lines))
        sys.exit(1 if lines else 0)
    if as_json:
        click.echo(json.dumps(result.to_dict(layers=layers), indent=2))
    else:
        from specc.tools.render import print_diff

        print_diff(result, layers=layers)
    sys.exit(0 if result.same else 1)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--phi",
    "phis",
    default="0:8",
    show_default=True,
    metavar="START:END[:STEP]",
    help="phi points, both ends included (step 1 by default), or a single number",
)
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a field")
@click.option("--no-presets", is_flag=True, help="leave out the spec's presets")
@click.option(
    "--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="write a CSV"
)
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.png",
    help="plot params and MACs against phi, presets marked (needs matplotlib)",
)
@click.option("--json", "as_json", is_flag=True, help="print the points as one JSON document")
@click.option("--allow-large", is_flag=True, help="compile even absurdly large models")
@reports_errors
def sweep(
    spec: Path,
    phis: str,
    overrides: tuple[str, ...],
    no_presets: bool,
    csv_file: Path | None,
    plot_file: Path | None,
    as_json: bool,
    allow_large: bool,
) -> None:
    """Tabulate SPEC's family over a range of phi and its presets."""
    from specc import api
    from specc.tools import sweep as tools

    try:
        points_phi = tools.phi_range(phis)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--phi") from None
    loaded = api.load(spec, overrides)
    points = api.sweep(loaded, points_phi, presets=not no_presets, allow_large=allow_large)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in points], indent=2))
    else:
        from specc.tools.render import print_sweep

        print_sweep(points)  # first: a --plot that cannot be drawn still leaves the table
    written = _write_sweep(points, csv_file, plot_file, loaded.spec.class_name or loaded.spec.name)
    for path in written if not as_json else []:
        click.echo(f"  wrote {path}")


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--phi", type=Phi(), help="compound coefficient (any finite float)")
@click.option("--preset", metavar="NAME", help="a preset of the spec (e.g. b6)")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="override a field")
@click.option("--allow-large", is_flag=True, help="build even absurdly large models")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["dot", "json"]),
    default="dot",
    show_default=True,
    help="Graphviz DOT (scopes as clusters) or networkx node-link JSON",
)
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="write FILE, not stdout"
)
@reports_errors
def graph(
    spec: Path,
    phi: float | None,
    preset: str | None,
    overrides: tuple[str, ...],
    allow_large: bool,
    fmt: str,
    out: Path | None,
) -> None:
    """Export the validated layer graph of SPEC (one node per IR node)."""
    from specc import api

    arch = compile_spec(spec, phi, preset, overrides, allow_large)
    text = api.export_graph(arch, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{out}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}", err=True)


def _write_sweep(
    points: list[Any], csv_file: Path | None, plot_file: Path | None, title: str
) -> list[Path]:
    """--csv, then --plot (UserError without matplotlib, after the table and the CSV)."""
    from specc.tools import sweep as tools

    written = []
    try:
        if csv_file is not None:
            tools.write_csv(points, csv_file)
            written.append(csv_file)
        if plot_file is not None:
            tools.plot(points, plot_file, title)
            written.append(plot_file)
    except OSError as exc:
        raise UserError(f"{exc.filename or ''}: cannot write: {exc.strerror or exc}") from None
    except ImportError:
        done = f" (wrote {', '.join(map(str, written))})" if written else ""
        raise UserError(f"--plot needs matplotlib: pip install 'specc[plot]'{done}") from None
    return written
