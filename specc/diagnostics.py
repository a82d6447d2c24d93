"""User-facing problems as values.

Every stage of the pipeline reports what is wrong with the user's input as `Diagnostic`s:
a location (file, line, column), the dotted path of the spec field concerned, a message and
an optional hint. Stages collect all the problems they find and raise one `SpecError`
carrying the list, so a user fixes everything in one go. Nothing here knows about the CLI;
the CLI only prints `f"{diagnostic.severity}: {diagnostic}"`.

Warnings are Diagnostics with `severity="warning"` (made by `warning()`): something legal
but probably not meant (a TF-style batch-norm momentum). They never stop a build; they
travel beside the result (`LoadedSpec.warnings`, `Architecture.warnings`) and the CLI
prints them on stderr as `warning: file:line:col: path: message`, never into `--json`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Location:
    """Where in a source a value came from (1-based line and column)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem with the user's input."""

    message: str
    location: Location | None = None
    path: str = ""
    hint: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(str(self.location))
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        text = ": ".join(parts)
        if self.hint:
            text += f" ({self.hint})"
        return text


def warning(
    message: str, location: Location | None = None, path: str = "", hint: str | None = None
) -> Diagnostic:
    """A Diagnostic that reports without stopping the build."""
    return Diagnostic(message, location, path, hint, severity="warning")


def unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """`diagnostics` without repeats, in their first order (a spec's warning comes back
    from every preset it is compiled with)."""
    return list(dict.fromkeys(diagnostics))


class SpecError(Exception):
    """Raised with every problem found; `str()` lists them one per line."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        if not diagnostics:
            raise ValueError("SpecError needs at least one diagnostic")
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, or None when nothing is close."""
    matches = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def dotted(path: Sequence[str | int]) -> str:
    """('stages', 2, 'kernel') -> 'stages[2].kernel'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
