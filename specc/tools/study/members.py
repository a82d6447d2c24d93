"""The members of a scaling study: per MACs budget and scaling rule, the largest model.

A rule is a set of coefficients for φ: `compound` uses the spec's α, β, γ; `depth`,
`width` and `resolution` keep the spec's coefficient for that dimension and set the other
two to 1, so φ grows that multiplier alone. For a budget of k times the baseline's MACs
(the spec at φ = 0), `specc.tools.fit` finds the largest φ whose *built* model is within
k × baseline MACs, to 1e-4 in φ, and the built model at the next step above is over it.

A member is therefore exactly what `specc build SPEC --phi φ --set
scaling.coefficients.<dimension>=<value> ...` gives (`Member.build_command`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from specc.build.architecture import Architecture
from specc.build.driver import compile_spec
from specc.diagnostics import EXIT_USAGE, UserError, did_you_mean
from specc.lang.load import LoadedSpec
from specc.scaling.selector import Selector
from specc.tools.fit import fit
from specc.tools.search.candidates import Candidate, arch_hash, with_coefficients

RULES = ("compound", "width", "depth", "resolution")
_DIMENSIONS = {"depth": 0, "width": 1, "resolution": 2}
_FIELDS = ("depth", "width", "resolution")


@dataclass(frozen=True)
class Member:
    rule: str
    budget: float  # a multiple of the baseline's MACs
    coefficients: Candidate  # the rule's alpha, beta, gamma
    phi: float  # the largest phi within the budget (to 1e-4)
    arch: Architecture = field(repr=False, compare=False)
    baseline_macs: int
    next_macs: int | None  # the built model one step above phi (None: past the size guard)

    @property
    def multipliers(self) -> tuple[float, float, float]:
        m = self.arch.resolved.multipliers
        return (m.depth, m.width, m.resolution)

    @property
    def resolution(self) -> int:
        return self.arch.resolved.resolution

    @property
    def macs(self) -> int:
        return self.arch.macs

    @property
    def params(self) -> int:
        return self.arch.params

    @property
    def macs_ratio(self) -> float:
        return self.macs / self.baseline_macs

    @property
    def arch_hash(self) -> str:
        return arch_hash(self.arch)

    def build_command(self, spec: str) -> str:
        """The `specc build` command line that builds this member."""
        c = self.coefficients
        sets = " ".join(
            f"--set scaling.coefficients.{name}={value:g}"
            for name, value in zip(_FIELDS, (c.alpha, c.beta, c.gamma), strict=True)
        )
        return f"specc build {spec} --phi {self.phi!r} {sets}"


def parse_rules(text: str) -> tuple[str, ...]:
    """`compound,width` -> the rules; an unknown or repeated one is a usage error (exit 2)."""
    rules = tuple(r.strip() for r in text.split(",") if r.strip())
    if not rules:
        raise UserError("--rules: name at least one rule", exit_code=EXIT_USAGE)
    for rule in rules:
        if rule not in RULES:
            hint = did_you_mean(rule, RULES)
            raise UserError(
                f"--rules: unknown rule {rule!r}: the rules are {', '.join(RULES)}"
                + (f" (did you mean {hint!r}?)" if hint else ""),
                exit_code=EXIT_USAGE,
            )
    if len(set(rules)) != len(rules):
        raise UserError(f"--rules: a rule is named twice in {text!r}", exit_code=EXIT_USAGE)
    return rules


def parse_budgets(text: str) -> tuple[float, ...]:
    """`2,4` -> (2.0, 4.0): multiples of the baseline's MACs, each at least 1."""
    budgets = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = float(part.removesuffix("x"))
        except ValueError:
            raise UserError(f"--budgets: {part!r} is not a number (e.g. --budgets 2,4)",
                            exit_code=EXIT_USAGE) from None  # fmt: skip
        if not math.isfinite(value) or value < 1:
            raise UserError(
                f"--budgets: {part} is below the baseline: a budget is a multiple of the "
                "baseline's MACs, 1 or more",
                exit_code=EXIT_USAGE,
            )
        budgets.append(value)
    if len(set(budgets)) != len(budgets):
        raise UserError(f"--budgets: a budget is named twice in {text!r}", exit_code=EXIT_USAGE)
    return tuple(sorted(budgets))


def rule_coefficients(loaded: LoadedSpec, rule: str) -> Candidate:
    """The (alpha, beta, gamma) of a rule: the spec's, or one of them and 1 for the others."""
    c = loaded.spec.scaling.coefficients
    spec = (float(c.depth), float(c.width), float(c.resolution))
    if rule == "compound":
        return Candidate(*spec)
    index = _DIMENSIONS[rule]
    if spec[index] <= 1:
        raise UserError(
            f"{loaded.file}: scaling.coefficients.{rule} is {spec[index]:g}, so {rule}-only "
            f"scaling cannot grow the model",
            hint=f"--set scaling.coefficients.{rule}=1.2 (any value above 1: the budget "
            "fixes how far it grows)",
        )
    values = [1.0, 1.0, 1.0]
    values[index] = spec[index]
    return Candidate(*values)


def members(
    loaded: LoadedSpec,
    budgets: Iterable[float],
    rules: Iterable[str],
    done: Callable[[Member], None] | None = None,
) -> list[Member]:
    """Every (budget, rule) member, budgets in the given order, rules within each."""
    baseline = compile_spec(loaded, Selector(phi=0.0), nearest_preset=False)
    coefficients = {rule: rule_coefficients(loaded, rule) for rule in rules}
    found = []
    for budget in budgets:
        for rule, candidate in coefficients.items():
            scaled = with_coefficients(loaded, candidate)
            result = fit(scaled, metric="macs", budget=budget * baseline.macs)
            member = Member(
                rule, budget, candidate, result.phi, result.arch, baseline.macs,
                None if result.next_arch is None else result.next_arch.macs,
            )  # fmt: skip
            found.append(member)
            if done is not None:
                done(member)
    return found
