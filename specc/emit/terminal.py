"""Terminal output shared by the rich renderers: a console and tables at natural width.

rich prints plain text off a terminal and no colours under NO_COLOR, by itself. What it
does not do by itself is keep a wide table whole: squeezed to a narrow terminal, or to
the 80 columns it assumes for a pipe, it cuts cells short with an ellipsis and hides the
very numbers being read. Tables printed through `print_table` fit the width by dropping
the columns each table names as least needed, and otherwise keep their natural width.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from specc.emit import textout


class _Console(Console):
    """A console that spells text in ASCII before measuring it where the stream is ASCII
    (`specc.emit.textout`), so that `->` for `→` does not shift a table's columns."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        if textout.active(self.file):
            text = textout.to_ascii(text)
        return super().render_str(text, **kwargs)


def console(**kwargs: Any) -> Console:
    """Never soft-wrapped: a log read in CI or a pipe keeps one line per fact."""
    return _Console(**{"highlight": False, "soft_wrap": True, **kwargs})


def print_table(out: Console, table: Table, drop: Sequence[str] = ()) -> None:
    """Print `table` within the console's width (the terminal's, or `COLUMNS`, or 80 in a
    pipe): first without padding between cells, then without the `drop` columns, in that
    order, while it is wider; never cut (a table that still does not fit prints whole),
    never with trailing spaces."""
    for header in [None, *drop]:
        if header is not None:
            _drop(table, header)
        if _needed(out, table) <= out.width:
            break
        table.padding = (0, 1)
        table.pad_edge = False
    width = out.width
    out.width = max(width, _needed(out, table))
    try:
        with out.capture() as captured:
            out.print(table)
    finally:
        out.width = width
    for line in captured.get().splitlines():
        out.file.write(_TRAILING.sub(r"\1", line) + "\n")
    out.file.flush()


def wrap(text: str, width: int = 80, indent: str = "  ") -> str:
    """`text` folded to `width` columns, continuation lines indented under its first."""
    first = text[: len(text) - len(text.lstrip())]
    return textwrap.fill(
        text.strip(), width, initial_indent=first, subsequent_indent=first + indent,
        break_on_hyphens=False,
    )  # fmt: skip


# Spaces at a line's end, before any closing style codes.
_TRAILING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$")


def _needed(out: Console, table: Table) -> int:
    return Measurement.get(out, out.options.update_width(100_000), table).maximum


def _drop(table: Table, header: str) -> None:
    table.columns[:] = [c for c in table.columns if str(c.header) != header]
