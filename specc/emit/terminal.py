"""Terminal output shared by the rich renderers: a console and tables at natural width.

rich prints plain text off a terminal and no colours under NO_COLOR, by itself. What it
does not do by itself is keep a wide table whole: squeezed to a narrow terminal, or to
the 80 columns it assumes for a pipe, it cuts cells short with an ellipsis and hides the
very numbers being read. Tables printed through `print_table` keep their natural width.
"""

from __future__ import annotations

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


def print_table(out: Console, table: Table) -> None:
    needed = Measurement.get(out, out.options.update_width(100_000), table).maximum
    width = out.width
    out.width = max(width, needed)
    try:
        out.print(table)
    finally:
        out.width = width
