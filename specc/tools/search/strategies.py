"""Which candidates to evaluate next: the paper's grid, or Optuna's TPE sampler.

Both propose compiled rows (`ask`) and learn what happened (`tell`); the search driver
decides what is trained, skipped as recorded, or skipped as a duplicate network.

TPE keeps the constraint by reparametrisation, not rejection: with L = ln(target), it
draws two shares x, y in [0, 1] and sets

    ln alpha = x L,   2 ln beta = (1 - x) y L,   2 ln gamma = (1 - x)(1 - y) L

so every trial has alpha, beta, gamma >= 1 and alpha * beta^2 * gamma^2 = target (exactly,
up to rounding the coefficients to 3 decimals), and the sampler searches a fixed square.
With `prune`, Optuna's successive-halving pruner reads each candidate's per-epoch
validation top-1 and stops the ones behind their rung.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from specc.lang.load import LoadedSpec
from specc.tools.search.candidates import Candidate, Result, measure


class Strategy(Protocol):
    planned: int | None  # how many candidates it will propose, when known

    def ask(self, n: int) -> list[Result]: ...
    def tell(self, result: Result) -> None: ...
    def should_prune(self, key: str, epoch: int, value: float) -> bool: ...


class GridStrategy:
    """The grid's rows in the order given (the CLI orders them nearest the target first)."""

    def __init__(self, rows: list[Result]) -> None:
        self.rows = list(rows)
        self.planned: int | None = len(rows)

    def ask(self, n: int) -> list[Result]:
        taken, self.rows = self.rows[:n], self.rows[n:]
        return taken

    def tell(self, result: Result) -> None:
        pass

    def should_prune(self, key: str, epoch: int, value: float) -> bool:
        return False


def from_shares(x: float, y: float, target: float) -> Candidate:
    """The candidate at shares (x, y) of ln(target) (see the module docstring)."""
    L = math.log(target)
    return Candidate(
        round(math.exp(x * L), 3),
        round(math.exp((1 - x) * y * L / 2), 3),
        round(math.exp((1 - x) * (1 - y) * L / 2), 3),
    )


def to_shares(c: Candidate) -> tuple[float, float]:
    """The shares of a candidate (of its own product, for rows recorded by a grid search)."""
    L = math.log(c.product)
    if L <= 0:
        return 0.0, 0.5
    x = min(1.0, max(0.0, math.log(c.alpha) / L))
    rest = 1 - x
    y = min(1.0, max(0.0, 2 * math.log(c.beta) / L / rest)) if rest > 1e-9 else 0.5
    return x, y


class TpeStrategy:
    """Optuna TPE over the shares; `trials` candidates in all, recorded ones included, so
    that a rerun continues to the same budget."""

    def __init__(
        self,
        loaded: LoadedSpec,
        target: float,
        trials: int,
        recorded: list[Result],
        *,
        seed: int = 0,
        prune: bool = False,
        minimize: bool = False,
        parallel: bool = False,
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.loaded, self.target, self.trials = optuna, loaded, target, trials
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)
        pruner = optuna.pruners.SuccessiveHalvingPruner() if prune else optuna.pruners.NopPruner()
        direction: Any = "minimize" if minimize else "maximize"  # optuna's Literal
        self.study = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
        self.space: dict[str, Any] = {
            "x": optuna.distributions.FloatDistribution(0.0, 1.0),
            "y": optuna.distributions.FloatDistribution(0.0, 1.0),
        }
        self.known: set[str] = set()
        for row in recorded:
            self._seed(row)
        self.open: dict[str, list[Any]] = {}  # key -> trials waiting for its result
        self.asked = 0
        self.planned: int | None = trials

    def _seed(self, row: Result) -> None:
        state = self._state(row)
        if state is None or row.key in self.known:
            return
        x, y = to_shares(row.candidate)
        value = row.metric if state == self.optuna.trial.TrialState.COMPLETE else None
        trial = self.optuna.trial.create_trial(
            params={"x": x, "y": y}, distributions=self.space, value=value, state=state
        )
        self.study.add_trial(trial)
        self.known.add(row.key)

    def _state(self, row: Result) -> Any:
        states = self.optuna.trial.TrialState
        if row.status in ("ok", "duplicate") and row.metric is not None:
            return states.COMPLETE
        return {"pruned": states.PRUNED, "failed": states.FAIL}.get(row.status)

    def ask(self, n: int) -> list[Result]:
        rows: list[Result] = []
        while len(rows) < n and self._budget_left() > 0:
            if self.asked >= 10 * self.trials:  # the sampler keeps proposing known points
                break
            trial = self.study.ask()
            self.asked += 1
            x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
            (row,) = measure(self.loaded, [from_shares(x, y, self.target)])
            self.open.setdefault(row.key, []).append(trial)
            rows.append(row)
        return rows

    def _budget_left(self) -> int:
        return self.trials - len(self.known) - sum(1 for k in self.open if k not in self.known)

    def tell(self, result: Result) -> None:
        state = self._state(result) or self.optuna.trial.TrialState.FAIL
        for trial in self.open.pop(result.key, []):
            if state == self.optuna.trial.TrialState.COMPLETE:
                self.study.tell(trial, result.metric)
            else:
                self.study.tell(trial, state=state)
        self.known.add(result.key)

    def should_prune(self, key: str, epoch: int, value: float) -> bool:
        trials = self.open.get(key)
        if not trials:
            return False
        trials[0].report(value, epoch)
        return bool(trials[0].should_prune())
