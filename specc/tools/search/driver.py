"""The search loop: ask the strategy, skip what is known, run the rest, record as it finishes.

For each proposed candidate, in order of preference:

1. recorded in the results file (a previous run): reused, nothing runs (a failure is
   re-run only with `retry_failed`);
2. its built network (architecture hash) equals one already evaluated: recorded as a
   `duplicate` with that one's result, nothing runs; equal to one still running: it waits
   for that one;
3. otherwise evaluated by the executor, unless `limit` evaluations have been started.

Every new result is appended to the results file the moment it arrives, then passed to
`on_result` (the CLI prints a line per candidate). Per-epoch reports go to the strategy,
and a pruning decision stops that evaluation. An interrupt ends the running evaluations;
what was recorded stays, and a rerun resumes from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from specc.lang.load import LoadedSpec
from specc.tools.search.candidates import Result
from specc.tools.search.evaluators import Job
from specc.tools.search.executors import Executor
from specc.tools.search.results import ResultsFile
from specc.tools.search.strategies import Strategy


@dataclass
class SearchState:
    """Where a search stands; `on_result` gets it after each new result."""

    planned: int | None
    rows: dict[str, Result] = field(default_factory=dict)  # every candidate seen, by key
    resumed: int = 0  # reused from the results file
    started: int = 0  # evaluations started in this run
    finished: int = 0  # new results recorded in this run (duplicates included)
    limited: bool = False  # --limit stopped it before the strategy ran out
    minimize: bool = False

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.rows.values() if r.status == "failed"]

    @property
    def best(self) -> Result | None:
        scored = [r for r in self.rows.values() if r.status in ("ok", "duplicate")]
        scored = [r for r in scored if r.metric is not None]
        if not scored:
            return None
        pick = min if self.minimize else max
        return pick(scored, key=lambda r: r.metric or 0.0)


def duplicate_of(row: Result, rep: Result) -> Result:
    """`row`, which builds the same network as `rep`, with `rep`'s result."""
    status = "duplicate" if rep.status in ("ok", "duplicate") else rep.status
    error = f"same network as {rep.key}" + (
        f", which {rep.status}" if status != "duplicate" else ""
    )
    return row.but(status=status, metric=rep.metric, eval_top1=rep.eval_top1,
                   ema_top1=rep.ema_top1, run=rep.run, wall_s=0.0, error=error)  # fmt: skip


def run_search(
    loaded: LoadedSpec,
    strategy: Strategy,
    executor: Executor,
    store: ResultsFile,
    workdir: Path,
    *,
    limit: int | None = None,
    retry_failed: bool = False,
    minimize: bool = False,
    on_result: Callable[[Result, SearchState], None] | None = None,
) -> SearchState:
    """Run the search to the end (or to `limit` evaluations); see the module docstring."""
    state = SearchState(strategy.planned, minimize=minimize)
    reusable = {
        k: r
        for k, r in store.read().items()
        if r.status != "compiled" and (r.status != "failed" or not retry_failed)
    }
    by_arch = {r.arch: r for r in reusable.values() if r.arch}
    running: dict[str, Result] = {}  # key -> row being evaluated
    running_arch: dict[str, str] = {}  # arch -> key
    waiting: dict[str, list[Result]] = {}  # running key -> rows that wait for its result

    def record(result: Result) -> None:
        state.rows[result.key] = result
        state.finished += 1
        store.append(result)
        strategy.tell(result)
        if on_result is not None:
            on_result(result, state)

    def place(row: Result) -> None:
        key = row.key
        if key in reusable and key not in state.rows:
            state.rows[key] = reusable[key]
            state.resumed += 1
            strategy.tell(reusable[key])
        elif key in state.rows:  # proposed again (TPE): the same answer
            strategy.tell(state.rows[key])
        elif key in running or row.arch in running_arch:
            waiting.setdefault(key if key in running else running_arch[row.arch], []).append(row)
        elif row.arch in by_arch:
            record(duplicate_of(row, by_arch[row.arch]))
        elif limit is not None and state.started >= limit:
            state.limited = True
            state.rows.setdefault(key, row)
        else:
            executor.submit(Job(row, loaded, (workdir / key).resolve()))
            running[key], running_arch[row.arch] = row, key
            state.started += 1

    def arrived(result: Result) -> None:
        running.pop(result.key, None)
        running_arch.pop(result.arch, None)
        record(result)
        if result.arch:
            by_arch.setdefault(result.arch, result)
        for row in waiting.pop(result.key, []):
            if row.key == result.key:
                strategy.tell(result)
            else:
                record(duplicate_of(row, result))

    workdir.mkdir(parents=True, exist_ok=True)
    try:
        while True:
            free = executor.slots - len(running)
            asked = strategy.ask(free) if free > 0 else []
            for row in asked:
                place(row)
            if not running:
                if asked:
                    continue  # all known or duplicates: ask again
                break
            results, reports = executor.poll(0.5)
            for report in reports:
                if report.key in running and strategy.should_prune(
                    report.key, report.epoch, report.value
                ):
                    executor.stop(report.key)
            for result in results:
                arrived(result)
    finally:
        executor.close()
    return state
