"""benchmarks/gpu_throughput.py: the CPU quick mode runs in CI; the ratio table."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_throughput.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_throughput", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_cpu_run_measures_every_cell(tmp_path):
    command = [sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--threads", "1",
               "--results", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "gpu_throughput-cpu-quick.json").read_text())
    assert {"torch", "cpu", "machine"} <= set(data["environment"])
    assert data["command"].startswith("python benchmarks/gpu_throughput.py --device cpu --quick")
    cells = {(r["mode"], r["candidate"]) for r in data["rows"]}
    references = {"torchvision"} | ({"timm"} if importlib.util.find_spec("timm") else set())
    expected = {("inference", name) for name in references | {"generated", "fused"}}
    expected |= {("training", name) for name in references | {"generated"}}
    expected |= {("trainer", "bare step"), ("trainer", "specc train synthetic")}
    assert cells == expected
    assert all(r["images_per_s"] > 0 for r in data["rows"])
    table = (tmp_path / "gpu_throughput-cpu-quick.md").read_text()
    assert "| b0 | inference | torchvision |" in table and "1.000x" in table


def test_ratio_table_compares_like_with_like():
    ratios = _script().ratios
    row = {"iqr_pct": 5.0, "peak_gib": None, "batch": 8}
    rows = [
        {**row, "model": "b0", "mode": "training", "candidate": "torchvision compiled",
         "images_per_s": 100.0, "peak_gib": 10.0},
        {**row, "model": "b0", "mode": "training", "candidate": "generated compiled",
         "images_per_s": 110.0, "peak_gib": 9.0},
        {**row, "model": "phi6", "mode": "inference", "candidate": "fused",
         "images_per_s": 50.0},
    ]  # fmt: skip
    lines = ratios(rows)
    assert lines[3].endswith("| 1.100x (mem 0.90x) |")  # against torchvision *compiled*
    assert lines[4].endswith("|  |")  # phi = 6 has no reference: no ratio
