"""The built-in evaluator: each candidate trained by specc's own trainer on scikit-learn's
digits (an ImageFolder), ranked by validation top-1, recorded, and resumed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.cli import main
from specc.tools.search import Candidate, build

pytest.importorskip("torch")
pytest.importorskip("torchvision")

DIGITS_SPEC = Path(__file__).resolve().parents[1] / "data" / "digits_search.yaml"
GRID = ["--step", "0.1", "--tolerance", "0.05"]  # 10 candidates, 9 distinct networks


def search(data: Path, results: Path, *extra: str):
    args = ["search", str(DIGITS_SPEC), *GRID, "--data", str(data), "--epochs", "1",
            "--results", str(results), *extra]  # fmt: skip
    return CliRunner().invoke(main, args)


def test_trains_ranks_records_and_resumes(tmp_path, digits, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a small shared CPU: one thread is fastest
    results = tmp_path / "search.csv"
    first = search(digits, results, "--limit", "2")
    assert first.exit_code == 0, first.output
    progress = [line for line in first.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 2 and all("val top-1" in p and "| best" in p for p in progress)
    assert "--limit 2 reached; 8 candidates not evaluated" in first.stderr
    assert "ranked by val top-1" in first.stdout

    with results.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["ok", "ok"]
    loaded = specc.load(DIGITS_SPEC)
    for row in rows:
        coefficients = (float(row[k]) for k in ("alpha", "beta", "gamma"))
        arch = build(loaded, Candidate(*coefficients))
        assert (int(row["params"]), int(row["macs"])) == (arch.params, arch.macs)
        assert int(row["resolution"]) == arch.resolved.resolution
        assert float(row["metric"]) == float(row["eval_top1"])  # raw weights unless --top1 ema
        assert 0 <= float(row["metric"]) <= 1 and 0 <= float(row["ema_top1"]) <= 1
        assert float(row["wall_s"]) > 0
        run = Path(row["run"])
        epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert len(epochs) == 1 and epochs[0]["eval_top1"] == float(row["metric"])
        assert "epoch 0" in (run.parent / "train.log").read_text()  # the trainer's own log
    trained = {Path(r["run"]): (Path(r["run"]) / "metrics.jsonl").stat().st_mtime for r in rows}

    again = search(digits, results, "--limit", "1", "--json")
    assert again.exit_code == 0, again.output
    assert "resuming from" in again.stderr and "2 candidates already evaluated" in again.stderr
    ranked = json.loads(again.stdout)
    assert [r["status"] for r in ranked] == ["ok"] * 3
    metrics = [r["metric"] for r in ranked]
    assert metrics == sorted(metrics, reverse=True)
    for run, mtime in trained.items():  # the first two were not trained again
        assert (run / "metrics.jsonl").stat().st_mtime == mtime
        assert not run.with_name("run.1").exists()
