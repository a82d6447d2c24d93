"""Candidates of a coefficient search and what compiling them says, before any training.

A candidate is one (alpha, beta, gamma). `grid` enumerates them the paper's way: every
alpha, beta, gamma >= 1 on a grid with alpha * beta^2 * gamma^2 within a tolerance of the
target (2: each phi step doubles the MACs). `measure` compiles each at phi = 1 and records
what rounding really did: the MACs ratio to the phi = 0 build, the parameters, the
resolution, and a hash of the built network, so that two candidates that round to the same
network are trained once. Nothing here imports torch or runs anything.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from specc.build.architecture import Architecture
from specc.build.driver import compile_spec
from specc.lang.load import LoadedSpec
from specc.scaling.selector import Selector

COEFFICIENTS = ("depth", "width", "resolution")


@dataclass(frozen=True)
class Candidate:
    alpha: float
    beta: float
    gamma: float

    @property
    def product(self) -> float:
        return self.alpha * self.beta**2 * self.gamma**2

    @property
    def key(self) -> str:
        """A stable name, also the candidate's folder name under the search's work folder."""
        return f"a{self.alpha:.4g}-b{self.beta:.4g}-g{self.gamma:.4g}"


@dataclass
class Result:
    """One candidate's row: compiled numbers, then (once evaluated) how it did.

    status: `compiled` (not evaluated), `ok`, `failed` (the error says why: a command's
    exit status, a cancelled or killed task, no metric), `pruned` (stopped early by the
    pruner; `metric` is its last report) or `duplicate` (builds the same network as the
    candidate named in `error`; `metric` is that one's)."""

    alpha: float
    beta: float
    gamma: float
    product: float
    resolution: int
    params: int
    macs: int
    macs_ratio: float
    status: str = "compiled"
    metric: float | None = None
    error: str = ""
    arch: str = ""  # sha256 of the built network (see `arch_hash`), 16 hex digits
    wall_s: float | None = None  # seconds the evaluation took
    run: str = ""  # the evaluation's folder (the trainer's run folder, or the command's)
    eval_top1: float | None = None  # built-in evaluator: last epoch, raw weights
    ema_top1: float | None = None  # built-in evaluator: last epoch, EMA weights
    extra: dict[str, Any] = field(default_factory=dict)  # not recorded

    @property
    def key(self) -> str:
        return self.candidate.key

    @property
    def candidate(self) -> Candidate:
        return Candidate(self.alpha, self.beta, self.gamma)

    @property
    def evaluated(self) -> bool:
        return self.status in ("ok", "pruned", "duplicate")

    def but(self, **changes: Any) -> Result:
        """A copy with `changes` (a result is passed between threads and processes)."""
        return replace(self, **changes)


# The columns of a results file, in order; `extra` is not recorded.
FIELDS = tuple(f.name for f in fields(Result) if f.name != "extra")


# Grid values per axis above which enumerating takes minutes (step 0.0025 at target 2).
MAX_AXIS_VALUES = 500
# Candidates one grid may hold (each is compiled, about 0.1 s for B0, and trained when
# evaluating): the default grid (step 0.05) has 111, a step of 0.01 about 10,300.
MAX_CANDIDATES = 20_000


def grid(step: float = 0.05, target: float = 2.0, tolerance: float = 0.1) -> list[Candidate]:
    """Every (alpha, beta, gamma) >= 1 on the grid with |alpha beta^2 gamma^2 - target| <= tol.

    ValueError, before any enumeration, when the grid would hold more than MAX_CANDIDATES
    (each one is compiled, and trained when evaluating): the count and the limit named."""
    numbers = (step, target, tolerance)
    if not all(map(math.isfinite, numbers)) or not (0 < step <= 1) or target < 1 or tolerance < 0:
        raise ValueError("need finite 0 < step <= 1, target >= 1 and tolerance >= 0")
    upper = target + tolerance
    values = math.floor((upper - 1) / step + 1e-9) + 1
    if values > MAX_AXIS_VALUES:  # the enumeration grows as the cube of this
        raise ValueError(
            f"step {step:g} puts {values:,} values on the alpha axis (at most "
            f"{MAX_AXIS_VALUES}): use a coarser --step"
        )

    def axis(limit: float) -> list[float]:
        count = math.floor((limit - 1) / step + 1e-9)
        return [round(1 + i * step, 6) for i in range(count + 1)]

    count = _grid_size(axis, step, target, tolerance)
    if count > MAX_CANDIDATES:
        raise ValueError(
            f"step {step:g} and tolerance {tolerance:g} give about {count:,} candidates (at "
            f"most {MAX_CANDIDATES:,}, each compiled and trained): use a coarser --step or "
            "a smaller --tolerance"
        )
    found = []
    for alpha in axis(upper):
        for beta in axis(math.sqrt(upper / alpha)):
            for gamma in axis(math.sqrt(upper / (alpha * beta**2))):
                candidate = Candidate(alpha, beta, gamma)
                if abs(candidate.product - target) <= tolerance + 1e-12:
                    found.append(candidate)
    return found


def _grid_size(axis: Any, step: float, target: float, tolerance: float) -> int:
    """How many grid points `grid` would find (within a few at the band's edges), counted
    per (alpha, beta) from the gamma interval, so that a huge grid costs nothing to refuse."""
    upper, lower = target + tolerance, max(target - tolerance, 0.0)
    total = 0
    for alpha in axis(upper):
        for beta in axis(math.sqrt(upper / alpha)):
            base = alpha * beta**2
            low = max(1.0, math.sqrt(lower / base))
            high = math.sqrt(upper / base)
            if high >= low:
                first = math.ceil((low - 1) / step - 1e-9)
                total += math.floor((high - 1) / step + 1e-9) - first + 1
    return total


def with_coefficients(loaded: LoadedSpec, candidate: Candidate) -> LoadedSpec:
    """The spec with the candidate's coefficients (grid values are valid by construction)."""
    spec = loaded.spec
    values = dict(
        zip(COEFFICIENTS, (candidate.alpha, candidate.beta, candidate.gamma), strict=True)
    )
    coefficients = spec.scaling.coefficients.model_copy(update=values)
    scaling = spec.scaling.model_copy(update={"coefficients": coefficients})
    return LoadedSpec(spec.model_copy(update={"scaling": scaling}), loaded.source)


def build(loaded: LoadedSpec, candidate: Candidate, phi: float = 1.0) -> Architecture:
    """The candidate's network at `phi` (a search compares them at phi = 1)."""
    return compile_spec(
        with_coefficients(loaded, candidate), Selector(phi=phi), nearest_preset=False
    )


# What identifies a built network: everything in architecture.json except where it came
# from (file, hash, selector, multipliers, rules: these differ between candidates that
# round to the same network).
_IDENTITY_ONLY = ("schema", "specc", "spec", "selector", "multipliers", "rules", "nearest_preset")


def arch_hash(arch: Architecture) -> str:
    """16 hex digits of sha256 over the built network: layers, shapes, rates, classes."""
    data = {k: v for k, v in arch.to_dict().items() if k not in _IDENTITY_ONLY}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def measure(
    loaded: LoadedSpec, candidates: Iterable[Candidate], done: Callable[[], None] | None = None
) -> list[Result]:
    """Compile each candidate at phi = 1; MACs ratios are to the spec's phi = 0 build."""
    base = compile_spec(loaded, Selector(phi=0.0), nearest_preset=False)
    results = []
    for c in candidates:
        arch = build(loaded, c)
        results.append(Result(c.alpha, c.beta, c.gamma, c.product, arch.resolved.resolution,
                              arch.params, arch.macs, arch.macs / base.macs,
                              arch=arch_hash(arch)))  # fmt: skip
        if done is not None:
            done()
    return results
