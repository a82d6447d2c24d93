"""The search on a local Ray instance (2 CPUs, started and stopped here): one task is
force-cancelled mid-training; the search finishes, records it failed, and a rerun resumes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.cli import main
from specc.tools.search import ResultsFile, grid, measure, rank
from specc.tools.search.driver import run_search
from specc.tools.search.evaluators import TrainEvaluator
from specc.tools.search.executors import RayExecutor
from specc.tools.search.strategies import GridStrategy

ray = pytest.importorskip("ray", reason="the Ray executor needs ray: pip install 'specc[ray]'")
pytest.importorskip("torch")
pytest.importorskip("torchvision")

DIGITS_SPEC = Path(__file__).resolve().parents[1] / "data" / "digits_search.yaml"
GRID = ["--step", "0.1", "--tolerance", "0.05"]


@pytest.fixture
def local_ray(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def cancel_once_training(key: str, workdir: Path, cancelled: list[str]):
    """An on_submit hook: once `key`'s trainer has started, force-cancel its Ray task."""

    def hook(submitted: str, ref) -> None:
        if submitted != key:
            return

        def later() -> None:
            deadline = time.monotonic() + 120
            while not (workdir / key / "train.log").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)
            ray.cancel(ref, force=True)
            cancelled.append(key)

        threading.Thread(target=later, daemon=True).start()

    return hook


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="checks for orphans in /proc")
def test_cancelled_task_is_recorded_failed_and_the_search_resumes(tmp_path, digits, local_ray):
    loaded = specc.load(DIGITS_SPEC)
    rows = rank(measure(loaded, grid(0.1, 2.0, 0.05)), 2.0, evaluated=False)[:3]
    results, workdir = tmp_path / "search.jsonl", tmp_path / "search.runs"
    victim, cancelled = rows[1].key, []
    evaluator = TrainEvaluator(str(digits), epochs=1)
    hook = cancel_once_training(victim, workdir, cancelled)
    executor = RayExecutor(evaluator, None, cpus=1, gpus=0, on_submit=hook)
    assert executor.slots == 2  # what a 2-CPU instance holds at 1 CPU per task
    state = run_search(loaded, GridStrategy(rows), executor, ResultsFile(results), workdir)

    assert cancelled == [victim]
    recorded = ResultsFile(results).read()
    assert {k: r.status for k, r in recorded.items()} == {
        rows[0].key: "ok",
        victim: "failed",
        rows[2].key: "ok",
    }
    assert recorded[victim].error == "ray task: cancelled"
    assert state.started == 3 and [r.key for r in state.failed] == [victim]
    assert processes_mentioning(str(workdir / victim)) == []  # the trainer died with its task

    # A rerun under the Ray executor skips what is recorded; --retry-failed re-runs the
    # cancelled candidate only (--limit 1 keeps the rest of the grid for later).
    args = ["search", str(DIGITS_SPEC), *GRID, "--data", str(digits), "--epochs", "1",
            "--results", str(results), "--executor", "ray", "--retry-failed",
            "--limit", "1"]  # fmt: skip
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "2 candidates already evaluated" in again.stderr
    assert [line.split(":")[0] for line in again.stderr.splitlines() if line.startswith("[")] == [
        f"[3/10] {victim}"
    ]
    assert ResultsFile(results).read()[victim].status == "ok"
