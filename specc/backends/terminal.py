"""Terminal output shared by the rich renderers: a console and tables at natural width.

rich prints plain text off a terminal and no colours under NO_COLOR, by itself. What it
does not do by itself is keep a wide table whole: squeezed to a narrow terminal, or to
the 80 columns it assumes for a pipe, it cuts cells short with an ellipsis and hides the
very numbers being read. Tables printed through `print_table` keep their natural width.
"""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def console() -> Console:
    """Never soft-wrapped: a log read in CI or a pipe keeps one line per fact."""
    return Console(highlight=False, soft_wrap=True)


def print_table(out: Console, table: Table) -> None:
    needed = Measurement.get(out, out.options.update_width(100_000), table).maximum
    width = out.width
    out.width = max(width, needed)
    try:
        out.print(table)
    finally:
        out.width = width
