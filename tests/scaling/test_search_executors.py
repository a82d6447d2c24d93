"""Executors and the trainer adapter without training: GPU pinning by CUDA_VISIBLE_DEVICES,
the per-epoch reports read from the trainer's metrics file, pruning and failures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.cli import main
from specc.tools.search import Candidate, measure
from specc.tools.search import evaluators as ev
from specc.tools.search.evaluators import Job, TrainEvaluator

DIGITS_SPEC = Path(__file__).resolve().parents[1] / "data" / "digits_search.yaml"

PINNED = """
import json, os, sys, time
config = json.load(open(sys.argv[1]))
with open(sys.argv[2], "a") as log:
    log.write(f"{time.time()} start {os.environ['CUDA_VISIBLE_DEVICES']}\\n")
time.sleep(1.5)
with open(sys.argv[2], "a") as log:
    log.write(f"{time.time()} end {os.environ['CUDA_VISIBLE_DEVICES']}\\n")
print(json.dumps({"metric": config["alpha"]}))
"""


def test_each_local_job_holds_its_own_gpus(tmp_path, monkeypatch):
    script, log = tmp_path / "pinned.py", tmp_path / "gpus.log"
    script.write_text(PINNED)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    args = ["search", str(DIGITS_SPEC), "--step", "0.1", "--tolerance", "0.05", "--limit", "4",
            "--eval", f"{sys.executable} {script} {{config}} {log}", "--jobs", "4",
            "--gpus-per-job", "2", "--results", str(tmp_path / "r.jsonl")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "4 GPUs hold 2 jobs of 2 GPUs" in result.stderr
    events = sorted(line.split() for line in log.read_text().splitlines())
    holding: set[str] = set()
    for _, what, gpus in events:  # in time order: a group is never held twice at once
        if what == "start":
            assert gpus in {"0,1", "2,3"} and gpus not in holding
            holding.add(gpus)
        else:
            holding.remove(gpus)
    assert sum(1 for event in events if event[1] == "start") == 4


def test_several_gpus_per_job_train_under_torchrun():
    argv = ev.train_command(Path("m/train.yaml"), "data", Path("run"), 3, ("0", "1"))
    assert argv[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert argv[5:7] == ["-m", "specc.train"] and argv[-2:] == ["--epochs", "3"]
    single = ev.train_command(Path("m/train.yaml"), "data", Path("run"), None, ("0",))
    assert single[1:4] == ["-m", "specc", "train"] and "--epochs" not in single


FAKE_TRAINER = """
import json, sys, time
args = sys.argv[1:]
out = args[args.index("--out") + 1]
import os; os.makedirs(out, exist_ok=True)
for epoch in range(int(sys.argv[-1])):
    with open(os.path.join(out, "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"epoch": epoch, "eval_top1": 0.1 * (epoch + 1),
                            "ema_top1": 0.2 * (epoch + 1)}) + "\\n")
    print(f"epoch {epoch}", flush=True)
    time.sleep(0.7)
if "crash" in out:
    sys.exit("error: the trainer fell over")
"""


def fake_trainer(tmp_path, monkeypatch):
    script = tmp_path / "trainer.py"
    script.write_text(FAKE_TRAINER)

    def command(config, data, out, epochs, gpus, seed=None):
        return [sys.executable, str(script), "--out", str(out), str(epochs)]

    monkeypatch.setattr(ev, "train_command", command)


def job(tmp_path: Path, name: str) -> Job:
    loaded = specc.load(DIGITS_SPEC)
    (row,) = measure(loaded, [Candidate(1.2, 1.1, 1.15)])
    return Job(row, loaded, tmp_path / name)


def test_the_adapter_reports_each_epoch_and_reads_the_last(tmp_path, monkeypatch):
    fake_trainer(tmp_path, monkeypatch)
    reports: list[tuple[int, float]] = []
    evaluator = TrainEvaluator("data", epochs=3, top1="ema")
    result = evaluator(job(tmp_path, "ok"), lambda e, v: reports.append((e, v)), lambda: False)
    assert result.status == "ok", result.error
    assert [epoch for epoch, _ in reports] == [0, 1, 2]
    assert [value for _, value in reports] == pytest.approx([0.2, 0.4, 0.6])  # EMA top-1
    assert (result.metric, result.eval_top1, result.ema_top1) == pytest.approx((0.6, 0.3, 0.6))
    assert (tmp_path / "ok" / "model" / "model.py").is_file()  # the candidate's build
    assert "epoch 2" in (tmp_path / "ok" / "train.log").read_text()


def test_the_adapter_stops_a_pruned_run_and_records_a_crash(tmp_path, monkeypatch):
    fake_trainer(tmp_path, monkeypatch)
    reports: list[tuple[int, float]] = []
    evaluator = TrainEvaluator("data", epochs=20)
    pruned = evaluator(job(tmp_path, "pruned"), lambda e, v: reports.append((e, v)),
                       lambda: len(reports) >= 2)  # fmt: skip
    assert pruned.status == "pruned" and pruned.metric is not None
    assert len(ev.read_epochs(Path(pruned.run))) < 20  # ended early

    crashed = TrainEvaluator("data", epochs=1)(job(tmp_path, "crash"), None, None)
    assert crashed.status == "failed"
    assert crashed.error.startswith("exit status 1: error: the trainer fell over (log: ")

    again = TrainEvaluator("data", epochs=1)(job(tmp_path, "crash"), None, None)
    assert (tmp_path / "crash" / "run.1" / "metrics.jsonl").is_file()  # the first try, kept
    assert again.run == str(tmp_path / "crash" / "run")
