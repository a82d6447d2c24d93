"""Coefficient search: the grid, the measured MACs ratios, evaluation, ranking, resume."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.cli import main
from specc.tools.search import Candidate, grid, measure

SPECS = Path(__file__).resolve().parents[2] / "specs"
B0 = str(SPECS / "b0.yaml")
SMALL = ["--step", "0.1", "--tolerance", "0.05"]  # 10 candidates


def test_grid_respects_the_constraint():
    candidates = grid(step=0.05, target=2.0, tolerance=0.1)
    assert Candidate(1.2, 1.1, 1.15) in candidates
    assert all(abs(c.product - 2) <= 0.1 + 1e-9 for c in candidates)
    assert all(min(c.alpha, c.beta, c.gamma) >= 1 for c in candidates)
    assert len(candidates) == len(set(candidates))


def test_paper_coefficients_are_listed_with_the_compilers_macs_ratio():
    result = CliRunner().invoke(main, ["search", B0, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    paper = [r for r in rows if (r["alpha"], r["beta"], r["gamma"]) == (1.2, 1.1, 1.15)]
    assert len(paper) == 1
    base = specc.compile(B0)
    scaled = specc.compile(B0, phi=1)  # the spec's own coefficients are the paper's
    assert paper[0]["macs_ratio"] == pytest.approx(scaled.macs / base.macs)
    assert paper[0]["params"] == scaled.params == 9_109_994


def test_measure_uses_the_candidates_coefficients():
    loaded = specc.load(B0)
    (row,) = measure(loaded, [Candidate(1.0, 1.0, 1.4)])
    assert row.params == 5_288_548  # width and depth unchanged
    assert row.resolution == 314  # round(224 * 1.4)


FAKE = """
import json, sys, time
config = json.load(open(sys.argv[1]))
with open(sys.argv[2], "a") as log:
    log.write(f"start {time.time()} {config['alpha']} {config['beta']} {config['gamma']}\\n")
time.sleep(float(sys.argv[3]))
with open(sys.argv[2], "a") as log:
    log.write(f"end {time.time()}\\n")
if config["alpha"] == 2.0:
    sys.exit("diverged")            # a failing evaluation
if config["gamma"] == 1.4:
    print("training done")          # no metric
else:
    print(json.dumps({"accuracy": config["alpha"] + config["beta"] - config["gamma"]}))
"""


@pytest.fixture
def evaluator(tmp_path):
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE)
    log = tmp_path / "calls.log"

    def command(sleep: float = 0.0) -> str:
        return f"{sys.executable} {script} {{config}} {log} {sleep}"

    return command, log


def run_search(tmp_path, command, *extra):
    args = ["search", B0, *SMALL, "--eval", command, "--metric", "accuracy",
            "--results", str(tmp_path / "results.csv"), "--json", *extra]  # fmt: skip
    return CliRunner().invoke(main, args)


def test_evaluation_ranks_records_failures_and_resumes(tmp_path, evaluator):
    command, log = evaluator
    result = run_search(tmp_path, command(), "--jobs", "2")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    ok = [r for r in rows if r["status"] == "ok"]
    metrics = [r["metric"] for r in ok]
    assert metrics == sorted(metrics, reverse=True) and len(ok) == 8
    assert rows[0]["metric"] == max(metrics)
    failed = {(r["alpha"], r["gamma"]): r["error"] for r in rows if r["status"] == "failed"}
    assert "exit status 1: diverged" in failed[(2.0, 1.0)]
    assert "no JSON line with a numeric 'accuracy'" in failed[(1.0, 1.4)]
    assert all(r["status"] == "failed" for r in rows[-2:])  # failures rank last

    with open(tmp_path / "results.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 10
    calls = log.read_text().count("start")
    again = run_search(tmp_path, command())
    assert again.exit_code == 0
    assert "resuming from" in again.stderr and "10 candidates already evaluated" in again.stderr
    assert log.read_text().count("start") == calls  # nothing re-run
    assert json.loads(again.stdout) == rows

    retry = run_search(tmp_path, command(), "--retry-failed")
    assert retry.exit_code == 0
    assert log.read_text().count("start") == calls + 2  # only the two failures


def test_jobs_run_evaluations_in_parallel(tmp_path, evaluator):
    command, log = evaluator
    result = run_search(tmp_path, command(sleep=3.0), "--jobs", "10")  # slow starts under load
    assert result.exit_code == 0, result.output
    lines = log.read_text().splitlines()
    starts = [float(line.split()[1]) for line in lines if line.startswith("start")]
    ends = [float(line.split()[1]) for line in lines if line.startswith("end")]
    assert len(starts) == 10
    assert max(starts) < min(ends)  # every evaluation started before any had finished


def test_write_keeps_the_spec_and_its_comments(tmp_path):
    out = tmp_path / "best.yaml"
    result = CliRunner().invoke(main, ["search", B0, *SMALL, "--write", str(out)])
    assert result.exit_code == 0, result.output
    original, written = Path(B0).read_text().splitlines(), out.read_text().splitlines()
    changed = [(a, b) for a, b in zip(original, written, strict=True) if a != b]
    assert len(changed) == 1 and "coefficients:" in changed[0][1]
    assert changed[0][1].endswith("# alpha, beta, gamma")
    specc.compile(out)  # still a valid spec


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--step", "0.3", "--tolerance", "0.001", "--target", "2.05"], "no alpha, beta, gamma"),
     (["--step", "0"], "0 < step <= 1"),
     (["--eval", "python train.py"], "needs a {config} placeholder")],
)  # fmt: skip
def test_bad_search_arguments(args, message):
    result = CliRunner().invoke(main, ["search", B0, *args])
    assert result.exit_code == 2
    assert message in result.output
