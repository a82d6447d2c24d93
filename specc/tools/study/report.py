"""What a study found: per budget and rule, the member and its score over seeds.

`summarise` gives one `Cell` per (budget, rule): the member's multipliers, resolution,
params and MACs, and the mean and sample standard deviation (n - 1) of the finished
seeds' scores. Cells are ranked within each budget, best mean first. `table` is the ranked
80-column text table, `to_rows` the JSON/CSV rows, `write_csv` writes them atomically and
`plot` draws the paper's Fig. 8: score against MACs, one line per rule, error bars of one
standard deviation (matplotlib, imported only there).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specc.diagnostics import UserError
from specc.tools.atomic import write_atomically
from specc.tools.study.members import Member
from specc.tools.study.results import StudyRun, run_key


@dataclass(frozen=True)
class Cell:
    member: Member
    scores: tuple[float, ...]  # finished seeds' scores, in seed order
    seeds: int  # seeds planned
    failed: int

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.scores) if len(self.scores) > 1 else None


def summarise(
    members: list[Member], seeds: list[int], runs: dict[str, StudyRun], minimize: bool = False
) -> list[Cell]:
    """One cell per member; budgets ascending, then best mean first (unfinished last)."""
    cells = []
    for member in members:
        rows = [runs.get(run_key(member.rule, member.budget, s)) for s in seeds]
        scores = tuple(
            r.metric for r in rows if r and r.status in ("ok", "duplicate") and r.metric is not None
        )
        failed = sum(1 for r in rows if r and r.status == "failed")
        cells.append(Cell(member, scores, len(seeds), failed))
    sign = 1.0 if minimize else -1.0

    def order(cell: Cell) -> tuple[float, int, float, str]:
        mean = cell.mean
        return (cell.member.budget, mean is None, sign * (mean or 0.0), cell.member.rule)

    return sorted(cells, key=order)


def _pm(cell: Cell) -> str:
    if cell.mean is None:
        return "—"
    std = "" if cell.std is None else f" ± {cell.std:.4f}"
    return f"{cell.mean:.4f}{std}"


def table(cells: list[Cell], label: str) -> str:
    """The ranked table, at most 80 columns wide (params up to 9,999,999 000s)."""
    head = (f"{'budget':>6} {'#':>2}  {'rule':<10} {'depth':>5} {'width':>5} {'px':>4} "
            f"{'params':>9} {'MMACs':>7}  {'mean ± std':<15} {'n':>3}")  # fmt: skip
    lines = [f"{label} over seeds, ranked within each MACs budget", head, "─" * len(head)]
    rank, budget = 0, None
    for cell in cells:
        m = cell.member
        rank = rank + 1 if m.budget == budget else 1
        budget = m.budget
        depth, width, _ = m.multipliers
        n = f"{len(cell.scores)}/{cell.seeds}"
        lines.append(
            f"{m.budget:>5g}x {rank:>2}  {m.rule:<10} {depth:>5.2f} {width:>5.2f} "
            f"{m.resolution:>4} {m.params:>9,} {m.macs / 1e6:>7.2f}  {_pm(cell):<15} {n:>3}"
        )
    return "\n".join(lines)


def to_rows(cells: list[Cell], spec: str) -> list[dict[str, Any]]:
    """One dict per cell, for --json and the CSV."""
    rows = []
    rank, budget = 0, None
    for cell in cells:
        m = cell.member
        rank = rank + 1 if m.budget == budget else 1
        budget = m.budget
        depth, width, resolution = m.multipliers
        rows.append({
            "budget": m.budget, "rank": rank, "rule": m.rule, "phi": m.phi,
            "alpha": m.coefficients.alpha, "beta": m.coefficients.beta,
            "gamma": m.coefficients.gamma, "depth": depth, "width": width,
            "resolution_multiplier": resolution, "resolution": m.resolution,
            "params": m.params, "macs": m.macs, "macs_ratio": round(m.macs_ratio, 6),
            "next_step_macs": m.next_macs, "mean": cell.mean, "std": cell.std,
            "n": len(cell.scores), "seeds": cell.seeds, "failed": cell.failed,
            "scores": list(cell.scores), "build": m.build_command(spec),
        })  # fmt: skip
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The rows as CSV (scores joined by spaces), written whole or not at all."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["budget"])
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "scores": " ".join(f"{s:.6g}" for s in row["scores"])})
    write_atomically(path, out.getvalue().encode())


def plot(cells: list[Cell], path: Path, *, label: str, title: str) -> None:
    """Score against MMACs, one line per rule, error bars ± one standard deviation.
    UserError when matplotlib is missing (the `plot` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'specc[plot]'") from None
    figure, axes = plt.subplots(figsize=(7, 5), dpi=120)
    rules = list(dict.fromkeys(c.member.rule for c in cells))
    for rule in rules:
        points = sorted((c for c in cells if c.member.rule == rule and c.mean is not None),
                        key=lambda c: c.member.macs)  # fmt: skip
        if not points:
            continue
        axes.errorbar([c.member.macs / 1e6 for c in points], [c.mean or 0.0 for c in points],
                      yerr=[c.std or 0.0 for c in points], marker="o", capsize=4,
                      label=rule)  # fmt: skip
    for cell in cells:
        if cell.mean is not None and not math.isnan(cell.mean):
            axes.annotate(f"{cell.member.budget:g}x", (cell.member.macs / 1e6, cell.mean),
                          textcoords="offset points", xytext=(4, -10), fontsize=7)  # fmt: skip
    axes.set_xlabel("MMACs (as built)")
    axes.set_ylabel(f"{label} (mean ± std over seeds)")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix.lstrip(".") or "png")
    plt.close(figure)
    write_atomically(path, buffer.getvalue())
