"""A study's results file: one JSON line per (rule, budget, seed) run, appended as each run
finishes, so that an interrupted study resumes where it stopped.

Each row records the study's settings (spec hash, data, epochs, evaluator); a rerun with
other settings is refused rather than mixing results. One study at a time may use a file:
`open_results` holds a lock (`.<name>.lock` beside it) for as long as the study runs. A
line torn by a kill (the last line, without its newline) is dropped on resume, with a
warning; a damaged line elsewhere stops the study with its line number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from specc.diagnostics import SpecError, UserError
from specc.tools.search.candidates import Result


@dataclass
class StudyRun(Result):
    """One training of one member with one seed; `metric` is its validation score."""

    rule: str = ""
    budget: float = 0.0
    seed: int = 0
    phi: float = 0.0
    depth: float = 1.0  # the multipliers the member was built with
    width: float = 1.0
    resolution_mult: float = 1.0
    settings: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return run_key(self.rule, self.budget, self.seed)


def run_key(rule: str, budget: float, seed: int) -> str:
    """A run's name, also its folder under the study's work folder: `width-x2-seed0`."""
    return f"{rule}-x{budget:g}-seed{seed}"


COLUMNS = tuple(f.name for f in fields(StudyRun) if f.name != "extra")


class StudyResults:
    """The results file; `read` returns the recorded runs by key, `append` adds one."""

    def __init__(self, path: Path) -> None:
        if path.suffix != ".jsonl":
            raise UserError(f"--results {path}: a study's results file ends in .jsonl",
                            exit_code=2)  # fmt: skip
        self.path = path
        self.repaired = False

    def read(self, settings: dict[str, Any]) -> dict[str, StudyRun]:
        if not self.path.exists():
            return {}
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise UserError(f"{self.path}: cannot read it ({exc.strerror})") from None
        lines = data.split(b"\n")
        torn = data and not data.endswith(b"\n")
        runs: dict[str, StudyRun] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                run = StudyRun(**{k: row[k] for k in COLUMNS if k in row})
            except (ValueError, TypeError) as exc:
                if torn and number == len(lines):  # a kill cut the last append short
                    self._drop_tail(len(data) - len(line))
                    break
                raise UserError(
                    f"{self.path}:{number}: not a study results row ({exc}): cannot resume; "
                    "pass another --results or remove the line"
                ) from None
            if run.settings != settings:
                raise UserError(
                    f"{self.path}:{number}: recorded by a study with other settings "
                    f"({_difference(run.settings or {}, settings)}): pass another --results "
                    "to start a new study, or rerun with the recorded settings"
                )
            runs[run.key] = run
        return runs

    def _drop_tail(self, keep: int) -> None:
        with self.path.open("r+b") as handle:
            handle.truncate(keep)
        self.repaired = True

    def append(self, run: StudyRun) -> None:
        row = {k: getattr(run, k) for k in COLUMNS}
        line = (json.dumps(row) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)  # one write: a kill leaves a whole line or a torn last one
        finally:
            os.close(fd)


def _difference(recorded: dict[str, Any], now: dict[str, Any]) -> str:
    changed = [k for k in sorted(set(recorded) | set(now)) if recorded.get(k) != now.get(k)]
    return "; ".join(f"{k} {recorded.get(k)!r}, now {now.get(k)!r}" for k in changed[:3])


@contextmanager
def locked_results(path: Path) -> Iterator[None]:
    """Hold the results file's lock; UserError at once if another study holds it."""
    from specc.build.lock import locked

    lock = path.with_name(f".{path.name}.lock")
    holder = locked(lock, wait_s=0.0)
    try:
        holder.__enter__()
    except SpecError:
        raise UserError(
            f"{path}: another specc study is using this results file (lock {lock})",
            hint="wait for it to finish, or pass another --results",
        ) from None
    try:
        yield
    finally:
        holder.__exit__(None, None, None)
