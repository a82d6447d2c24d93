"""`--plot FILE.png`: each evaluated candidate's score against its MACs, labelled with its
alpha, beta, gamma, the Pareto front (no other candidate is both cheaper and better) drawn
as a line through its points. Needs matplotlib (the `plot` extra); imported only here."""

from __future__ import annotations

from pathlib import Path

from specc.diagnostics import UserError
from specc.tools.search.candidates import Result
from specc.tools.search.results import pareto_front


def plot(rows: list[Result], path: Path, *, metric: str, title: str, minimize: bool = False) -> int:
    """Write the plot; returns how many points it shows (finished candidates only)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'specc[plot]'") from None
    points = [r for r in rows if r.status in ("ok", "duplicate") and r.metric is not None]
    front = pareto_front(points, minimize=minimize)
    on_front = {r.key for r in front}
    figure, axes = plt.subplots(figsize=(8, 5.5), dpi=120)
    others = [r for r in points if r.key not in on_front]
    axes.scatter([r.macs / 1e6 for r in others], [r.metric or 0.0 for r in others],
                 color="tab:blue", label="candidate", zorder=2)  # fmt: skip
    axes.plot([r.macs / 1e6 for r in front], [r.metric or 0.0 for r in front], "-o",
              color="tab:red", label="Pareto front", zorder=3)  # fmt: skip
    for (macs, score), label in _labels(points).items():
        axes.annotate(label, (macs / 1e6, score), textcoords="offset points", xytext=(4, 4),
                      fontsize=7)  # fmt: skip
    axes.set_xlabel("MMACs at phi = 1 (as built)")
    axes.set_ylabel(metric)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8, title="labels: alpha, beta, gamma", title_fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return len(points)


def _labels(points: list[Result]) -> dict[tuple[int, float], str]:
    """One label per point; candidates that built the same network share it, one per line."""
    labels: dict[tuple[int, float], list[str]] = {}
    for r in sorted(points, key=lambda r: (r.status != "ok", r.key)):
        labels.setdefault((r.macs, r.metric or 0.0), []).append(
            f"{r.alpha:g}, {r.beta:g}, {r.gamma:g}"
        )
    return {point: "\n".join(names) for point, names in labels.items()}
