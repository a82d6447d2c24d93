"""The record of a search: an append-only results file, ranking, the Pareto front, --write.

Each result is appended as soon as its candidate finishes, so an interrupted search (or a
killed Ray driver) resumes where it stopped: a rerun reads the file and skips what it holds.
Files written before a column existed still read (the column is left empty).
"""

from __future__ import annotations

import csv
import json
import math
import threading
from pathlib import Path
from typing import Any

from specc.diagnostics import Diagnostic, Location, SpecError
from specc.lang.load import LoadedSpec
from specc.tools.search.candidates import FIELDS, Result

_INTS = ("resolution", "params", "macs")
_FLOATS = ("alpha", "beta", "gamma", "product", "macs_ratio")
_OPTIONAL_FLOATS = ("metric", "wall_s", "eval_top1", "ema_top1")
_REQUIRED = _INTS + _FLOATS


class ResultsFile:
    """Append-only results, CSV or JSON lines by suffix; thread-safe; read back to resume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        if path.suffix not in (".csv", ".jsonl", ".json"):
            raise SpecError([Diagnostic("results file must end in .csv, .jsonl or .json",
                                        Location(str(path)), "--results")])  # fmt: skip

    def read(self) -> dict[str, Result]:
        """The recorded results by candidate key; a later row for a key wins."""
        if not self.path.exists():
            return {}
        try:
            rows = self._rows()
            results = [Result(**{k: _typed(k, row.get(k)) for k in FIELDS}) for row in rows]
        except (ValueError, TypeError, KeyError) as exc:
            raise SpecError([Diagnostic(f"cannot resume from it: {exc}", Location(str(self.path)),
                                        "--results")]) from None  # fmt: skip
        return {r.key: r for r in results}

    def _rows(self) -> list[dict[str, Any]]:
        text = self.path.read_text()
        if self.path.suffix == ".csv":
            return list(csv.DictReader(text.splitlines()))
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def append(self, result: Result) -> None:
        row = {k: getattr(result, k) for k in FIELDS}
        with self.lock:
            new = not self.path.exists() or self.path.stat().st_size == 0
            if not new:
                self.check_appendable()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", newline="") as handle:
                if self.path.suffix == ".csv":
                    writer = csv.DictWriter(handle, fieldnames=FIELDS)
                    if new:
                        writer.writeheader()
                    writer.writerow(row)
                else:
                    handle.write(json.dumps(row) + "\n")

    def check_appendable(self) -> None:
        """A CSV written with other columns cannot take new rows: say so before any work."""
        if self.path.suffix != ".csv" or not self.path.exists():
            return
        with self.path.open(newline="") as handle:
            header = next(csv.reader(handle), [])
        if header and tuple(header) != FIELDS:
            raise SpecError([Diagnostic(
                "written by an older specc with other columns: pass a new --results file "
                "(or a .jsonl one, which takes any columns)", Location(str(self.path)),
                "--results")])  # fmt: skip


def _typed(key: str, value: Any) -> Any:
    if key in _REQUIRED:
        if value in (None, ""):
            raise ValueError(f"a row has no {key}")
        return int(value) if key in _INTS else float(value)
    if key in _OPTIONAL_FLOATS:
        return None if value in (None, "") else float(value)
    return "" if value is None else str(value)


def rank(
    rows: list[Result], target: float, evaluated: bool, minimize: bool = False
) -> list[Result]:
    """Evaluated: by metric, finished ones first, then pruned, then failed or unevaluated.
    Otherwise: by how close the real MACs ratio comes to the target, the best the formula
    alone can promise."""
    if evaluated:
        tier = {"ok": 0, "duplicate": 0, "pruned": 1}

        def by_metric(r: Result) -> tuple[int, float, str]:
            if r.metric is None:
                return (3, 0.0, r.key)
            return (tier.get(r.status, 2), r.metric if minimize else -r.metric, r.key)

        return sorted(rows, key=by_metric)
    return sorted(rows, key=lambda r: (abs(r.macs_ratio - target), r.alpha, r.beta, r.gamma))


def pareto_front(rows: list[Result], minimize: bool = False) -> list[Result]:
    """Finished rows no other row beats on both MACs (fewer) and metric, by MACs."""
    done = [r for r in rows if r.status in ("ok", "duplicate") and r.metric is not None]
    sign = -1.0 if minimize else 1.0
    front: list[Result] = []
    best = -math.inf
    for r in sorted(done, key=lambda r: (r.macs, -sign * (r.metric or 0.0))):
        score = sign * (r.metric or 0.0)
        if score > best:
            front.append(r)
            best = score
    return front


def write_spec_with(loaded: LoadedSpec, result: Result, path: Path) -> bool:
    """Write a copy of the spec with `result`'s coefficients; True when comments survived."""
    from specc.lang.edit import set_scalars

    text = Path(loaded.file).read_text(encoding="utf-8")
    values: dict[tuple[str | int, ...], float] = {
        ("scaling", "coefficients", "depth"): result.alpha,
        ("scaling", "coefficients", "width"): result.beta,
        ("scaling", "coefficients", "resolution"): result.gamma,
    }
    new, kept = set_scalars(text, values)
    path.write_text(new, encoding="utf-8")
    return kept
