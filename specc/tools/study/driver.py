"""The study loop: one evaluation per member and seed, recorded as each finishes.

For each (member, seed), in order of budget, rule, seed:

1. recorded in the results file (an earlier run): reused, nothing runs (a failure is
   re-run only with `retry_failed`);
2. the same built network with the same seed already evaluated (two rules that reach the
   same model, every rule at a budget of 1): recorded as a `duplicate` with its result;
   the same one still running: it waits for that one;
3. otherwise evaluated by the executor (the search's: local processes or Ray tasks, with
   the search's evaluators: specc's trainer or the user's command).

An interrupt ends the running evaluations (the executor's `close`); what was recorded stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from specc.lang.load import LoadedSpec
from specc.tools.search.evaluators import Job
from specc.tools.search.executors import Executor
from specc.tools.study.members import Member
from specc.tools.study.results import StudyResults, StudyRun, run_key


@dataclass
class StudyState:
    planned: int
    runs: dict[str, StudyRun] = field(default_factory=dict)
    resumed: int = 0
    finished: int = 0

    @property
    def failed(self) -> list[StudyRun]:
        return [r for r in self.runs.values() if r.status == "failed"]


def planned_run(member: Member, seed: int, settings: dict[str, Any]) -> StudyRun:
    """The row of one (member, seed) before it runs."""
    c = member.coefficients
    depth, width, resolution = member.multipliers
    return StudyRun(
        c.alpha, c.beta, c.gamma, c.product, member.resolution, member.params, member.macs,
        member.macs_ratio, arch=member.arch_hash, rule=member.rule, budget=member.budget,
        seed=seed, phi=member.phi, depth=depth, width=width, resolution_mult=resolution,
        settings=settings,
    )  # fmt: skip


def run_study(
    loaded: LoadedSpec,
    members: list[Member],
    seeds: list[int],
    executor: Executor,
    store: StudyResults,
    workdir: Path,
    settings: dict[str, Any],
    *,
    retry_failed: bool = False,
    on_result: Callable[[StudyRun, StudyState], None] | None = None,
) -> StudyState:
    """Evaluate every member with every seed (see the module docstring)."""
    plan = [(m, s) for m in members for s in seeds]
    state = StudyState(len(plan))
    recorded = store.read(settings)
    done_by_arch: dict[tuple[str, int], StudyRun] = {}
    for run in recorded.values():
        if run.status in ("ok", "duplicate") and run.arch:
            done_by_arch.setdefault((run.arch, run.seed), run)
    running: dict[str, StudyRun] = {}
    running_arch: dict[tuple[str, int], str] = {}
    waiting: dict[str, list[StudyRun]] = {}
    phis = {run_key(m.rule, m.budget, s): m.phi for m, s in plan}

    def record(run: StudyRun) -> None:
        state.runs[run.key] = run
        state.finished += 1
        store.append(run)
        if on_result is not None:
            on_result(run, state)

    def copy_of(row: StudyRun, rep: StudyRun) -> StudyRun:
        ok = rep.status in ("ok", "duplicate")
        return cast(StudyRun, row.but(status="duplicate" if ok else rep.status, metric=rep.metric,
                       eval_top1=rep.eval_top1, ema_top1=rep.ema_top1, run=rep.run,
                       wall_s=0.0, error=f"same network and seed as {rep.key}"
                       + ("" if ok else f", which {rep.status}")))  # fmt: skip

    queue: list[StudyRun] = []
    for member, seed in plan:
        row = planned_run(member, seed, settings)
        old = recorded.get(row.key)
        if old is not None and (old.status != "failed" or not retry_failed):
            state.runs[row.key] = old
            state.resumed += 1
        else:
            queue.append(row)

    def place(row: StudyRun) -> bool:
        """Start or settle `row`; False when the executor has no free slot."""
        ident = (row.arch, row.seed)
        if ident in done_by_arch:
            record(copy_of(row, done_by_arch[ident]))
        elif ident in running_arch:
            waiting.setdefault(running_arch[ident], []).append(row)
        elif len(running) >= executor.slots:
            return False
        else:
            folder = (workdir / row.key).resolve()
            executor.submit(Job(row, loaded, folder, phi=phis[row.key], seed=row.seed))
            running[row.key], running_arch[ident] = row, row.key
        return True

    workdir.mkdir(parents=True, exist_ok=True)
    try:
        while queue or running:
            while queue and place(queue[0]):
                queue.pop(0)
            if not running:
                continue
            results, _ = executor.poll(0.5)
            for done in results:
                result = cast(StudyRun, done)  # the executor returns the row it was given
                running.pop(result.key, None)
                running_arch.pop((result.arch, result.seed), None)
                record(result)
                if result.status in ("ok", "duplicate"):
                    done_by_arch.setdefault((result.arch, result.seed), result)
                for row in waiting.pop(result.key, []):
                    record(copy_of(row, result))
    finally:
        executor.close()
    return state
