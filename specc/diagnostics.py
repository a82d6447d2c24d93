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

Outside the compile path (folders, weights, data, runs) problems are `UserError`s: one
family, one printer (`specc.cli.common.fail`), one exit-code table (`EXIT_*` below).
`SpecError` is the compile path's member, `Interrupted` a run stopped by a signal.
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


# The exit codes of every specc command (the CLI's one table; `specc diff` alone follows GNU
# diff: 0 same, 1 different, 2 trouble).
EXIT_OK = 0
EXIT_INPUT = 1  # a problem with the input: a spec, a folder, a file, data; a stale --check
EXIT_USAGE = 2  # a usage error (click's convention): bad or conflicting options
EXIT_SIGINT = 130  # stopped by Ctrl-C after saving what it had (128 + SIGINT)
EXIT_SIGTERM = 143  # stopped by SIGTERM after saving what it had (128 + SIGTERM)


class UserError(Exception):
    """Every problem a user can fix, and the one type specc raises for them: what is wrong
    (`message`), the particulars one per line (`details`), what to do (`hint`), and the code
    the CLI exits with (`exit_code`, from the table above). The CLI prints it as

        error: MESSAGE
          DETAIL
          ...
        hint: HINT

    and never a traceback. `SpecError` is the compile path's kind, with located
    diagnostics; `label` is the first word printed ("error", or "stopped" for a run ended
    by a signal)."""

    label = "error"

    def __init__(
        self,
        message: str,
        *,
        details: Sequence[str] = (),
        hint: str | None = None,
        exit_code: int = EXIT_INPUT,
    ) -> None:
        self.message, self.details, self.hint = message, list(details), hint
        self.exit_code = exit_code
        super().__init__(message)

    def lines(self) -> list[str]:
        """What the CLI prints, one line each."""
        lines = [f"{self.label}: {self.message}" if self.label else self.message]
        lines += [f"  {detail}" for detail in self.details]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


class Interrupted(UserError):
    """SIGINT or SIGTERM stopped a run after it saved what it had: the message says where
    it stopped and how to continue; the CLI prints it as is and exits 130 or 143."""

    label = ""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, exit_code=code)


class SpecError(UserError):
    """Raised with every problem found in a spec (or anything compiled from it); `str()`
    lists the located diagnostics one per line."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        if not diagnostics:
            raise ValueError("SpecError needs at least one diagnostic")
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def lines(self) -> list[str]:
        return [f"{d.severity}: {d}" for d in self.diagnostics]

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


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
