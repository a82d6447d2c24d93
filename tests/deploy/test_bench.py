"""The inference benchmark: `specc bench` and benchmarks/inference.py --quick (CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

ROOT = Path(__file__).resolve().parents[2]


def test_bench_times_every_candidate_with_counts(every_kind_folder):
    args = ["bench", str(every_kind_folder), "--batch", "1,2", "--rounds", "2", "--iters", "1",
            "--no-onnx", "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["candidate"], r["batch"]) for r in rows] == [
        ("generated", 1), ("fused", 1), ("generated", 2), ("fused", 2)
    ]  # fmt: skip
    generated, fused = rows[0], rows[1]
    assert fused["params"] < generated["params"] and fused["macs"] == generated["macs"]
    assert all(r["images_per_s"] > 0 and r["timing"]["runs"] == 2 for r in rows)
    assert all(r["ratio"] is None for r in rows)  # no reference named


def test_bench_bad_input(tmp_path, every_kind_folder):
    result = CliRunner().invoke(main, ["bench", str(tmp_path), "--no-onnx"])
    assert result.exit_code == 1 and "not a generated folder" in result.output
    result = CliRunner().invoke(main, ["bench", str(every_kind_folder), "--batch", "1,x"])
    assert result.exit_code == 2 and "--batch" in result.output
    result = CliRunner().invoke(main, ["bench", str(every_kind_folder), "--no-onnx",
                                       "--reference", "no_such_net"])  # fmt: skip
    assert result.exit_code == 1 and "torchvision has no model named 'no_such_net'" in result.output


def test_inference_benchmark_quick_mode(tmp_path):
    pytest.importorskip("onnxruntime")
    command = [sys.executable, str(ROOT / "benchmarks" / "inference.py"), "--quick",
               "--threads", "1", "--results", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((tmp_path / "inference-cpu-quick.json").read_text())
    assert data["command"].startswith("python benchmarks/inference.py --quick")
    assert {"torch", "torchvision", "onnxruntime", "cpu"} <= set(data["environment"])
    candidates = {(r["candidate"], r["batch"]) for r in data["rows"]}
    names = ("torchvision", "generated", "fused", "onnxruntime")
    assert candidates == {(name, batch) for name in names for batch in (1, 2)}
    reference = [r for r in data["rows"] if r["candidate"] == "torchvision"]
    assert all(r["ratio"] == 1.0 for r in reference)
    # the same architecture: torchvision's B0 and the generated one count the same MACs
    macs = {r["candidate"]: r["macs"] for r in data["rows"]}
    assert macs["torchvision"] == macs["generated"] == macs["fused"]
    assert "| b0 | 1 | fused |" in (tmp_path / "inference-cpu-quick.md").read_text()
