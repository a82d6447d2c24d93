"""Where evaluations run: local processes, or tasks on a Ray cluster.

Both executors take jobs one at a time and hand back finished results and per-epoch reports
as they come (`poll`), so the search records each result at once and a strategy can propose
the next candidate from what is known. `stop(key)` ends a running evaluation early (the
pruner's decision); its result comes back with status `pruned`.

- `LocalExecutor`: `jobs` threads, each running one evaluation's process; with GPUs, each
  job holds its own `gpus_per_job` of them (CUDA_VISIBLE_DEVICES) for as long as it runs.
- `RayExecutor`: each evaluation a Ray task asking for its CPUs and GPUs (Ray pins the GPUs),
  with `max_retries=0`: Ray would otherwise rerun the task of a dead worker, silently, and
  a killed candidate must be recorded failed instead. Reports travel through a Ray queue.
"""

from __future__ import annotations

import os
import queue
import subprocess
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, Protocol

from specc.diagnostics import UserError
from specc.tools.search.candidates import Result
from specc.tools.search.evaluators import Evaluator, Job


@dataclass(frozen=True)
class EpochReport:
    key: str
    epoch: int
    value: float


class Executor(Protocol):
    slots: int  # evaluations that can run at once

    def submit(self, job: Job) -> None: ...
    def poll(self, timeout: float) -> tuple[list[Result], list[EpochReport]]: ...
    def stop(self, key: str) -> None: ...
    def close(self) -> None: ...


def safely(evaluator: Evaluator, job: Job, report: Any, stop: Any) -> Result:
    """Run an evaluation; an exception (a bug, a full disk) fails this candidate only."""
    try:
        return evaluator(job, report, stop)
    except Exception as exc:  # recorded as the candidate's error
        return job.row.but(status="failed", error=f"{type(exc).__name__}: {exc}")


def visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES, else nvidia-smi's list."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip().isdigit()]


class LocalExecutor:
    """`jobs` evaluations at a time on this machine; `gpus` split into groups of
    `gpus_per_job`, one group held by each running job."""

    def __init__(
        self, evaluator: Evaluator, jobs: int, gpus: list[str], gpus_per_job: int, cpus: int
    ) -> None:
        self.evaluator, self.cpus = evaluator, cpus
        self.groups: queue.Queue[tuple[str, ...] | None] = queue.Queue()
        if gpus_per_job > 0:
            count = len(gpus) // gpus_per_job
            for i in range(count):
                self.groups.put(tuple(gpus[i * gpus_per_job : (i + 1) * gpus_per_job]))
            jobs = min(jobs, count)
        else:
            for _ in range(jobs):
                self.groups.put(None)
        self.slots = jobs
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="specc-search")
        self.futures: dict[Future[Result], str] = {}
        self.reports: queue.Queue[EpochReport] = queue.Queue()
        self.stopped: set[str] = set()
        self.closing = False

    def submit(self, job: Job) -> None:
        key = job.row.key
        self.futures[self.pool.submit(self._work, job)] = key

    def _work(self, job: Job) -> Result:
        gpus = self.groups.get()
        key = job.row.key
        try:
            job = replace(job, cpus=self.cpus, gpus=gpus)

            def report(epoch: int, value: float) -> None:
                self.reports.put(EpochReport(key, epoch, value))

            return safely(self.evaluator, job, report, lambda: self.closing or key in self.stopped)
        finally:
            self.groups.put(gpus)

    def poll(self, timeout: float) -> tuple[list[Result], list[EpochReport]]:
        done, _ = wait(list(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
        finished = [future.result() for future in done]
        for future in done:
            del self.futures[future]
        return finished, _drain(self.reports)

    def stop(self, key: str) -> None:
        self.stopped.add(key)

    def close(self) -> None:
        # Ends every running process on an interrupt, also one whose submission the
        # interrupt cut short (its future never reached `futures`).
        self.closing = True
        self.pool.shutdown(wait=True, cancel_futures=True)


def _drain(source: Any) -> list[EpochReport]:
    items = []
    while True:
        try:
            items.append(source.get_nowait())
        except Exception:  # queue.Empty, or ray.util.queue.Empty
            return items


# --- Ray -----------------------------------------------------------------------------------


def _ray_task(evaluator: Evaluator, job: Job, reports: Any) -> Result:
    """Runs on a Ray worker; Ray has set CUDA_VISIBLE_DEVICES to the task's GPUs."""
    key = job.row.key

    def report(epoch: int, value: float) -> None:
        reports.put(EpochReport(key, epoch, value))

    return safely(evaluator, job, report, None)


class RayExecutor:
    """Each evaluation a Ray task with `cpus` CPUs and `gpus` GPUs, never retried.

    `gpus=None`: one per task on a cluster with GPUs, else none.
    Connects to `address` ("auto": the cluster this node belongs to) or, with none, starts
    a local instance; a Ray instance this process had already started is used as it is.
    `on_submit(key, ref)` sees every task's ObjectRef (tests cancel one through it)."""

    def __init__(
        self,
        evaluator: Evaluator,
        address: str | None,
        cpus: float,
        gpus: float | None,
        jobs: int | None = None,
        on_submit: Callable[[str, Any], None] | None = None,
    ) -> None:
        try:
            import ray
            from ray.util.queue import Queue
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install 'specc[ray]'") from None
        self.ray, self.evaluator, self.on_submit = ray, evaluator, on_submit
        self.owned = not ray.is_initialized()
        if self.owned:
            try:
                ray.init(address=address, log_to_driver=False, include_dashboard=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(f"cannot reach a Ray cluster at {address}: {exc}") from None
        self.cpus = max(1, round(cpus))
        if gpus is None:  # one per task where the cluster has GPUs
            resources = ray.cluster_resources()  # type: ignore[no-untyped-call,unused-ignore]
            gpus = 1.0 if resources.get("GPU", 0) > 0 else 0.0
        options: dict[str, Any] = {"num_cpus": cpus, "num_gpus": gpus, "max_retries": 0}
        self.remote = ray.remote(_ray_task).options(**options)
        self.reports = Queue(actor_options={"num_cpus": 0})
        self.slots = jobs or self._capacity(cpus, gpus)
        self.refs: dict[Any, Job] = {}
        self.stopped: set[str] = set()
        self.last: dict[str, float] = {}

    def _capacity(self, cpus: float, gpus: float) -> int:
        total = self.ray.cluster_resources()  # type: ignore[no-untyped-call,unused-ignore]
        fits = [int(total.get("CPU", 0) // cpus)] if cpus > 0 else []
        if gpus > 0:
            fits.append(int(total.get("GPU", 0) // gpus))
        return max(1, min(fits) if fits else 1)

    def submit(self, job: Job) -> None:
        job = replace(job, cpus=self.cpus, gpus=None)
        ref = self.remote.remote(self.evaluator, job, self.reports)
        self.refs[ref] = job
        if self.on_submit is not None:
            self.on_submit(job.row.key, ref)

    def poll(self, timeout: float) -> tuple[list[Result], list[EpochReport]]:
        ready, _ = self.ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        reports = _drain(self.reports)
        for r in reports:
            self.last[r.key] = r.value
        return [self._result(ref) for ref in ready], reports

    def _result(self, ref: Any) -> Result:
        job = self.refs.pop(ref)
        key = job.row.key
        try:
            result: Result = self.ray.get(ref)
            return result
        except Exception as exc:  # cancelled, worker died, node lost
            if key in self.stopped:
                return job.row.but(status="pruned", metric=self.last.get(key),
                                   error="pruned", run=str(job.folder / "run"))  # fmt: skip
            what = type(exc).__name__
            first = (str(exc).strip().splitlines() or [""])[0]
            reason = "cancelled" if "Cancel" in what else f"{what}: {first}"
            return job.row.but(status="failed", error=f"ray task: {reason}",
                               run=str(job.folder))  # fmt: skip

    def stop(self, key: str) -> None:
        for ref, job in self.refs.items():
            if job.row.key == key:
                self.stopped.add(key)
                self.ray.cancel(ref, force=True)

    def close(self) -> None:
        for ref in list(self.refs):
            self.ray.cancel(ref, force=True)
        self.refs.clear()
        self.reports.shutdown(force=True)
        if self.owned:
            self.ray.shutdown()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
