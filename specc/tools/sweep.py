"""Scan a spec's family: compile it at a range of phi and at each preset, one row per point.

Each point is an ordinary compile (the same code path as `specc build`), so its numbers are
exactly what a build at that point reports. Presets are not points of the phi curve; to
show both together, each preset gets an *equivalent phi*: the phi whose compound
multipliers (alpha^phi, beta^phi, gamma^phi) are nearest to the preset's, by least squares
on their logarithms, the same log distance the compiler uses to name a phi build's
nearest preset. It is labelled as such wherever it is shown.

The CSV and the plot are written here too; matplotlib is imported only by `plot`, with
the Agg canvas and no pyplot state. Nothing here imports click or torch.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from specc.build.driver import compile_spec
from specc.lang.load import LoadedSpec
from specc.scaling.selector import Selector

MAX_POINTS = 1000
CSV_FIELDS = (
    "point",
    "kind",
    "phi",
    "equivalent_phi",
    "depth",
    "width",
    "resolution_multiplier",
    "resolution",
    "blocks",
    "params",
    "macs",
)


@dataclass(frozen=True)
class SweepPoint:
    point: str  # phi=6, or the preset's name
    kind: str  # "phi" or "preset"
    phi: float | None  # None for presets
    equivalent_phi: float | None  # presets: the nearest compound phi (see the docstring)
    depth: float
    width: float
    resolution_multiplier: float
    resolution: int
    blocks: int
    params: int
    macs: int

    def to_dict(self) -> dict[str, str | float | int | None]:
        return asdict(self)


def phi_range(text: str) -> list[float]:
    """`0:8` (step 1), `0:8:0.5` or a single `6`; both ends included. ValueError if bad."""
    parts = text.split(":")
    if len(parts) > 3:
        raise ValueError(f"expected START:END[:STEP] or a number, got {text!r}")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"expected START:END[:STEP] or a number, got {text!r}") from None
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError(f"phi must be finite, got {text!r}")
    if len(numbers) == 1:
        return numbers
    start, end, step = (*numbers, 1.0) if len(numbers) == 2 else numbers
    if step <= 0:
        raise ValueError(f"the step must be positive, got {step:g}")
    if end < start:
        raise ValueError(f"the range ends before it starts: {text!r}")
    # Tolerance so that 0:1:0.1 includes 1 despite float steps.
    count = math.floor((end - start) / step + 1e-9) + 1
    if count > MAX_POINTS:
        raise ValueError(f"{count:,} points; at most {MAX_POINTS:,} (use a larger step)")
    # Rounded so that 0.1 * 3 prints as 0.3, as the user would write it.
    return [round(start + i * step, 10) for i in range(count)]


def sweep(
    loaded: LoadedSpec,
    phis: Sequence[float],
    *,
    presets: bool = True,
    allow_large: bool = False,
) -> list[SweepPoint]:
    """The phi points in order, then the spec's presets in the order the spec lists them."""
    selectors = [Selector(phi=phi) for phi in phis]
    if presets:
        selectors += [Selector(preset=name) for name in loaded.spec.presets]
    points = []
    for selector in selectors:
        arch = compile_spec(loaded, selector, allow_large=allow_large, nearest_preset=False)
        m = arch.resolved.multipliers
        points.append(
            SweepPoint(
                point=selector.preset or f"phi={selector.phi_text}",
                kind="preset" if selector.is_preset else "phi",
                phi=None if selector.is_preset else selector.phi_value,
                equivalent_phi=equivalent_phi(loaded, m.depth, m.width, m.resolution)
                if selector.is_preset
                else None,
                depth=m.depth,
                width=m.width,
                resolution_multiplier=m.resolution,
                resolution=arch.resolved.resolution,
                blocks=len(arch.resolved.blocks),
                params=arch.params,
                macs=arch.macs,
            )
        )
    return points


def equivalent_phi(loaded: LoadedSpec, depth: float, width: float, resolution: float) -> float:
    """argmin over phi of sum (ln m - phi ln c)^2: sum(ln m ln c) / sum(ln c ^ 2)."""
    c = loaded.spec.scaling.coefficients
    pairs = [(depth, c.depth), (width, c.width), (resolution, c.resolution)]
    denominator = sum(math.log(coeff) ** 2 for _, coeff in pairs)
    if denominator == 0:
        return 0.0  # all coefficients are 1: phi changes nothing, every phi is as near
    return sum(math.log(m) * math.log(coeff) for m, coeff in pairs) / denominator


def write_csv(points: Sequence[SweepPoint], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for point in points:
            writer.writerow({k: "" if v is None else v for k, v in point.to_dict().items()})


def plot(points: Sequence[SweepPoint], path: str | Path, title: str) -> None:
    """params and MACs against phi, log y axes, presets marked at their equivalent phi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curve = [p for p in points if p.phi is not None]
    marked = [p for p in points if p.equivalent_phi is not None]
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    for ax, what, label in zip(axes, ("params", "macs"), ("parameters", "MACs"), strict=True):
        if curve:
            xs = [p.phi for p in curve]
            ax.plot(xs, [getattr(p, what) for p in curve], "o-", ms=3, label="compound scaling, φ")
        if marked:
            xs = [p.equivalent_phi for p in marked]
            ys = [getattr(p, what) for p in marked]
            ax.plot(xs, ys, "s", color="tab:red", ms=5, label="presets, at their nearest φ")
            for p, x, y in zip(marked, xs, ys, strict=True):
                ax.annotate(p.point, (x, y), xytext=(4, -10), textcoords="offset points", size=8)
        ax.set_yscale("log")
        ax.set_xlabel("φ (compound coefficient)")
        ax.set_ylabel(f"{label} (log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[1].set_ylabel("MACs (the paper's FLOPs; log scale)")
    figure.suptitle(f"{title}: size against φ")
    figure.supxlabel(
        "A preset sits at the φ whose multipliers α^φ, β^φ, γ^φ are nearest to its own "
        "(least squares of logs); it is not a point of the φ curve.",
        size=8,
    )
    figure.savefig(path, format="png", dpi=100, metadata={"Software": None})
