"""Numbers that would blow memory or time are refused or bounded early, naming the number
and the limit (issue 18, kind 6): seeds, synthetic epochs, batches, search grids, latency
budgets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from click.testing import CliRunner  # noqa: E402
from test_trainer import TINY, train  # noqa: E402

import specc  # noqa: E402
from specc.cli import main  # noqa: E402
from specc.diagnostics import SpecError  # noqa: E402
from specc.runtime.train.data import ShardedSampler  # noqa: E402
from specc.tools.fit import fit  # noqa: E402
from specc.tools.search.candidates import MAX_CANDIDATES, grid  # noqa: E402

B0 = str(Path(__file__).resolve().parents[2] / "specs" / "b0.yaml")


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "tiny"
    specc.write(specc.compile(TINY), folder)
    return folder


@pytest.mark.parametrize(
    ("setting", "message"),
    [("seed=100000000000000000000", "seed: Input should be less than or equal to 4294967295"),
     ("seed=-1", "seed: Input should be greater than or equal to 0"),
     ("seed=1e400", "seed:"),
     ("batch_size=1000000", "batch_size: Input should be less than or equal to 65536")],
)  # fmt: skip
def test_numbers_out_of_range_in_the_recipe_are_refused_naming_the_key(
    tmp_path, model_dir, setting, message
):
    out = tmp_path / "run"
    result = train(str(model_dir / "train.yaml"), "--data", "synthetic", "--set", setting,
                   "--out", str(out))  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert message in result.output and not out.exists()


def test_a_batch_larger_than_the_machine_is_refused_before_any_step(tmp_path, model_dir):
    out = tmp_path / "run"
    result = train(str(model_dir / "train.yaml"), "--data", "synthetic", "--out", str(out),
                   "--set", "batch_size=65536", "--set", "img_size=8192")  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "batch_size 65536 at 8192 px: 65,536 inputs of 3x8192x8192 are 49,152.0 GiB" in (
        result.output
    )
    assert not (out / "last.pt").exists()


def test_synthetic_epochs_are_bounded_and_never_listed(tmp_path, model_dir):
    too_many = train(str(model_dir / "train.yaml"), "--data", "synthetic",
                     "--synthetic-images", str(10**9))  # fmt: skip
    assert too_many.exit_code == 2
    assert "1000000000 is not in the range 1<=x<=100000000" in too_many.output
    started = time.monotonic()
    sampler = ShardedSampler(10**8, 1, 3, 0, True, True)
    assert sampler.per_rank() == 33_333_334 and time.monotonic() - started < 0.1
    result = train(str(model_dir / "train.yaml"), "--data", "synthetic", "--synthetic-images",
                   str(10**8), "--max-steps", "1", "--out", str(tmp_path / "run"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--step", "0.0025"], "about 623,551 candidates (at most 20,000"),
     (["--step", "0.004", "--tolerance", "0.2"], "candidates (at most 20,000"),
     (["--target", "nan"], "need finite 0 < step <= 1"),
     (["--step", "0.00001"], "values on the alpha axis (at most 500)")],
)  # fmt: skip
def test_a_search_grid_too_large_is_refused_before_compiling(args, message):
    started = time.monotonic()
    result = CliRunner().invoke(main, ["search", B0, *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in result.output
    assert time.monotonic() - started < 10  # nothing was compiled


def test_the_grid_bound_admits_the_grids_people_use():
    assert len(grid(0.05)) == 111 and len(grid(0.01)) == 10_309 < MAX_CANDIDATES


def test_a_latency_budget_past_the_limit_is_refused_before_measuring():
    loaded = specc.load(B0)
    measured = []

    def measure(arch):  # 1 GMAC per ms, as a fast GPU might
        measured.append(arch.macs)
        return arch.macs / 1e9

    with pytest.raises(SpecError, match="latency budget of 1e\\+09 ms is over the limit of 10,000"):
        fit(loaded, metric="latency", budget=1e9, measure=measure, precision=1e-2)
    assert measured == []
    result = fit(loaded, metric="latency", budget=2.0, measure=measure, precision=1e-2)
    assert result.arch.macs / 1e9 <= 2.0  # a budget in reach fits as before


@pytest.mark.parametrize("batch", ["1000000000", "8,1000000000"])
def test_export_and_bench_refuse_a_batch_larger_than_the_machine(tmp_path, model_dir, batch):
    command = ["bench", str(model_dir), "--batch", batch, "--no-onnx"]
    if "," not in batch:
        command = ["export", str(model_dir), "--format", "exported-program", "--batch", batch,
                   "-o", str(tmp_path / "x.pt2")]  # fmt: skip
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--batch 1000000000: 1,000,000,000 inputs of 3x32x32 are" in result.output
    assert not (tmp_path / "x.pt2").exists()


def test_search_timeout_and_trials_are_bounded():
    nan = CliRunner().invoke(main, ["search", B0, "--eval", "x {config}", "--timeout", "nan"])
    assert nan.exit_code == 2 and "nan is not a positive number of seconds" in nan.output
    trials = CliRunner().invoke(main, ["search", B0, "--strategy", "tpe", "--trials", "10**12"])
    assert trials.exit_code == 2 and "--trials" in trials.output
