"""The per-layer table, in the style of torchinfo: one row per IR node, with totals.

`layer_table` gives the cells as text (shared by the terminal and the Markdown renderings);
`print_layers` prints them with rich. Reads an Architecture only.
"""

from __future__ import annotations

from typing import Literal

from specc.build.architecture import Architecture
from specc.emit.tables import macs_text
from specc.ir.nodes import format_shape

COLUMNS = (
    "layer",
    "op",
    "input",
    "output",
    "kernel",
    "stride",
    "groups",
    "params",
    "MACs",
    "activations",
)
NUMERIC = frozenset(COLUMNS[4:])


def layer_table(arch: Architecture) -> tuple[list[list[str]], list[str]]:
    """(a row of cells per layer in graph order, the totals row)."""
    rows = []
    for row in arch.layer_rows():
        rows.append(
            [
                row["name"],
                row["op"],
                shape(row["in_shape"]),
                shape(row["out_shape"]),
                _optional(row["kernel"]),
                _optional(row["stride"]),
                _optional(row["groups"]),
                f"{row['params']:,}",
                f"{row['macs']:,}",
                f"{row['activations']:,}",
            ]
        )
    totals = arch.totals()
    total_row = [
        f"total ({totals['layers']} layers)",
        "",
        shape(list(arch.input_shape)),
        shape(list(arch.output_shape)),
        "",
        "",
        "",
        f"{totals['params']:,}",
        f"{totals['macs']:,}",
        f"{totals['activations']:,}",
    ]
    return rows, total_row


def shape(value: list[int] | None) -> str:
    """A layer table's shape cell: blank where a layer has no input (the graph input)."""
    return "" if value is None else format_shape(value)


def _optional(value: int | None) -> str:
    return "" if value is None else str(value)


def print_layers(arch: Architecture) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from specc.emit.terminal import console, print_table

    out = console()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_footer=True)
    rows, totals = layer_table(arch)
    for column, total in zip(COLUMNS, totals, strict=True):
        justify: Literal["left", "right"] = "right" if column in NUMERIC else "left"
        table.add_column(column, footer=total, justify=justify, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    r = arch.resolved
    out.print(f"[bold]{r.class_name}[/bold], {r.selector.describe()} ({escape(r.file)})")
    # Least needed first where the terminal is narrow: the input shape is the previous
    # layer's output, groups and activations are rarely read, stride shows in the shapes.
    print_table(out, table, drop=("input", "activations", "groups", "stride", "kernel"))
    out.print(
        f"  MACs {macs_text(arch.macs)}; FLOPs {macs_text(2 * arch.macs)} (= 2 x MACs); "
        "activations: elements of each layer's output for one image"
    )
