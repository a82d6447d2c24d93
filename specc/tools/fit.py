"""Fit a budget: the largest phi whose *built* model stays within a MACs, parameter,
latency or training-memory budget (the predicted peak of a training step at a batch,
`specc.passes.step_memory`).

The formula (alpha * beta^2 * gamma^2)^phi is only an estimate; channel, repeat and
resolution rounding make the real size a step function of phi. So this measures built
models: it brackets the budget by doubling phi (or halving into negative phi when even
phi = 0 is over), then bisects until the step at which the model crosses the budget is
pinned to `precision`. It assumes size grows with phi, which holds when alpha, beta and
gamma are all at least 1 (every rounding rule specc offers is monotone).

Latency is any `measure(arch) -> float` (milliseconds): `specc.runtime.deploy.latency.ModelLatency`
times the built model; noise can make measured latency non-monotone near the budget, so the
chosen and the next step are reported with their measurements.

No torch here; compiles through `specc.build.driver` (a latency measure imports torch itself).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from specc.build.architecture import Architecture
from specc.build.driver import compile_spec
from specc.build.resolve import TooLarge
from specc.diagnostics import Diagnostic, Location, SpecError
from specc.lang.load import LoadedSpec
from specc.lang.sizes import format_bytes
from specc.scaling.selector import Selector

LOWEST_PHI = -64.0
# A deployment budget past 10 s per forward pass is a typo (seconds for ms, an exponent).
MAX_LATENCY_MS = 10_000
METRICS = ("macs", "params", "latency", "train_memory")
UNITS = {"macs": "MACs", "params": "params", "latency": "ms", "train_memory": "bytes"}


@dataclass(frozen=True)
class FitResult:
    phi: float  # the largest phi (to `precision`) whose model is within the budget
    arch: Architecture
    next_phi: float  # a phi just above: its model exceeds the budget
    next_arch: Architecture | None  # None when the next step is refused as absurdly large
    metric: str
    budget: float
    measure: Callable[[Architecture], float] = field(repr=False, compare=False)

    def size(self, arch: Architecture) -> float:
        return self.measure(arch)


def _measure_for(metric: str) -> Callable[[Architecture], float]:
    return (lambda arch: arch.macs) if metric == "macs" else (lambda arch: arch.params)


def train_memory_measure(batch: int) -> Callable[[Architecture], float]:
    """Predicted peak bytes of a training step at `batch` images under the model's
    train.yaml recipe (`Architecture.step_memory`; no torch)."""
    return lambda arch: arch.step_memory().peak(batch)


def fit(
    loaded: LoadedSpec,
    *,
    metric: str,
    budget: float,
    precision: float = 1e-4,
    measure: Callable[[Architecture], float] | None = None,
) -> FitResult:
    """Largest phi whose built model has `metric` <= `budget`: "macs" and "params" are
    counted; "latency" needs `measure` (arch -> milliseconds; it should cache)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    if measure is None:
        if metric in ("latency", "train_memory"):
            raise ValueError(f"fitting {metric} needs a measure function")
        measure = _measure_for(metric)
    if not math.isfinite(budget) or budget <= 0:
        raise SpecError([Diagnostic(f"the budget must be a positive number, got {budget}",
                                    Location(loaded.file), option(metric))])  # fmt: skip
    if metric == "latency" and budget > MAX_LATENCY_MS:
        raise SpecError([Diagnostic(
            f"a latency budget of {budget:g} ms is over the limit of {MAX_LATENCY_MS:,} ms: "
            "every candidate is timed 18 times, and models that slow are timed for hours",
            Location(loaded.file), "--target-latency", "give a budget in milliseconds",
        )])  # fmt: skip

    cache: dict[float, Architecture | None] = {}

    def build(phi: float) -> Architecture | None:
        if phi not in cache:
            try:
                cache[phi] = compile_spec(loaded, Selector(phi=phi), nearest_preset=False)
            except TooLarge:
                cache[phi] = None  # past the size guard: certainly over any sane budget
            except SpecError as error:
                if phi < 0:
                    raise _too_small(loaded, metric, budget, phi, error) from None
                raise
        return cache[phi]

    def fits(phi: float) -> bool:
        arch = build(phi)
        return arch is not None and measure(arch) <= budget

    low, high = _bracket(fits, loaded, metric, budget)
    while high - low > precision:
        middle = (low + high) / 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    # Report a short phi: `low` rounded down to the precision, when it builds the same model.
    digits = max(0, -math.floor(math.log10(precision)))
    phi = math.floor(low * 10**digits) / 10**digits
    if _size(build(phi)) != _size(build(low)):
        phi = low
    arch = build(phi)
    assert arch is not None  # fits(low) held
    return FitResult(phi, arch, high, build(high), metric, budget, measure)


def _too_small(
    loaded: LoadedSpec, metric: str, budget: float, phi: float, error: SpecError
) -> SpecError:
    return SpecError([Diagnostic(
        f"no buildable phi gives a model within {describe(budget, metric)}: searching down to "
        f"phi = {phi:g}, the network stops being buildable ({error.diagnostics[0].message})",
        Location(loaded.file), option(metric),
    )])  # fmt: skip


def _size(arch: Architecture | None) -> tuple[int, int] | None:
    return None if arch is None else (arch.params, arch.macs)


def _bracket(
    fits: Callable[[float], bool], loaded: LoadedSpec, metric: str, budget: float
) -> tuple[float, float]:
    """(low, high) with fits(low) and not fits(high)."""
    if fits(0.0):
        low, high = 0.0, 1.0
        while fits(high):
            low, high = high, high * 2
        return low, high
    low, high = -1.0, 0.0
    while not fits(low):
        if low < LOWEST_PHI:
            raise SpecError([Diagnostic(
                f"no phi down to {LOWEST_PHI:g} builds a model within {describe(budget, metric)}",
                Location(loaded.file), option(metric),
                "the spec's smallest model (minimum widths, one block per stage) is larger",
            )])  # fmt: skip
        low, high = low * 2, low
    return low, high


def option(metric: str) -> str:
    """The command-line option of a metric: '--target-train-memory'."""
    return f"--target-{metric.replace('_', '-')}"


def describe(value: float, metric: str) -> str:
    """A budget or size with its unit: '1,000 params', '5.00 ms'."""
    if metric == "latency":
        return f"{value:.2f} ms"
    if metric == "train_memory":
        return f"{format_bytes(value)} training memory"
    return f"{value:,.0f} {UNITS[metric]}"
