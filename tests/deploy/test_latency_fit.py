"""specc fit --target-latency: measured latency through an injected timer and the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.cli import main
from specc.tools.fit import fit

torch = pytest.importorskip("torch")

from specc.runtime.deploy import latency as latency_module  # noqa: E402
from specc.runtime.deploy.inference import count_params  # noqa: E402
from specc.runtime.deploy.latency import LatencyCache, ModelLatency, Timing  # noqa: E402

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.yaml"


def fake_timer(model, x):
    """Deterministic 'latency': 1 ms per 1,000 parameters of the fused model, with a spread."""
    ms = count_params(model) / 1000
    return Timing.from_samples([ms * 0.98, ms, ms, ms * 1.05])


def _fit(budget, cache):
    latency = ModelLatency("cpu", 1, False, cache, timer=fake_timer)
    result = fit(specc.load(TINY), metric="latency", budget=budget, precision=1e-3,
                 measure=lambda arch: latency(arch).median_ms)  # fmt: skip
    return result, latency


def test_fit_is_within_the_budget_and_monotone_in_it(tmp_path):
    cache = LatencyCache(tmp_path / "latency.json")
    chosen = []
    for budget in (4.0, 8.0, 16.0, 32.0):
        result, latency = _fit(budget, cache)
        assert latency(result.arch).median_ms <= budget
        assert result.next_arch is not None and latency(result.next_arch).median_ms > budget
        assert 0 < result.next_phi - result.phi <= 2e-3
        chosen.append(result.phi)
    assert chosen == sorted(chosen) and chosen[0] < chosen[-1]


def test_cached_rerun_measures_nothing(tmp_path, monkeypatch):
    path = tmp_path / "latency.json"
    first, latency = _fit(10.0, LatencyCache(path))
    assert latency.measured > 3

    def no_timing(model, x):
        raise AssertionError("a cached rerun must not measure")

    rerun = ModelLatency("cpu", 1, False, LatencyCache(path), timer=no_timing)
    again = fit(specc.load(TINY), metric="latency", budget=10.0, precision=1e-3,
                measure=lambda arch: rerun(arch).median_ms)  # fmt: skip
    assert (again.phi, rerun.measured) == (first.phi, 0)
    # Another batch size is another measurement.
    assert LatencyCache.key("h", "cpu", 1, False) != LatencyCache.key("h", "cpu", 8, False)


def test_same_layers_share_a_key_other_layers_do_not():
    loaded = specc.load(TINY)
    key = latency_module.architecture_hash
    assert key(specc.compile(loaded, phi=0.0)) == key(specc.compile(loaded, phi=-0.0001))
    assert key(specc.compile(loaded, phi=0.0)) != key(specc.compile(loaded, phi=1.0))


def test_cli_reports_chosen_and_next_from_the_cache(tmp_path, monkeypatch):
    path = tmp_path / "latency.json"
    _fit(10.0, LatencyCache(path))  # fills the cache with the fake timings

    def no_timing(*args, **kwargs):
        raise AssertionError("the CLI rerun must come from the cache")

    monkeypatch.setattr(latency_module, "time_forward", no_timing)
    args = ["fit", str(TINY), "--target-latency", "10", "--latency-cache", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("phi = ") and "ms, " in lines[0] and "(budget 10.00 ms)" in lines[0]
    assert "median of 4 runs, IQR" in lines[2] and lines[2].lstrip().startswith("chosen:")
    assert lines[3].lstrip().startswith("next:")
    assert "0 models measured" in result.output
    data = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
    assert data["timing"]["median_ms"] <= 10 < data["next_timing"]["median_ms"]
    assert data["measured"] == 0 and data["batch"] == 1


def test_live_cpu_measurement_of_a_tiny_model(tmp_path):
    latency = ModelLatency("cpu", 2, False, LatencyCache(tmp_path / "c.json"))
    timing = latency(specc.compile(TINY))
    assert timing.runs == 15 and 0 < timing.min_ms <= timing.median_ms <= timing.max_ms
    assert latency.measured == 1 and (tmp_path / "c.json").is_file()


def test_bad_input(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("not json")
    result = CliRunner().invoke(main, ["fit", str(TINY), "--target-latency", "5",
                                       "--latency-cache", str(broken)])  # fmt: skip
    assert result.exit_code == 1 and "not a specc latency cache" in result.output
    result = CliRunner().invoke(main, ["fit", str(TINY), "--target-macs", "1e6", "--batch", "4"])
    assert result.exit_code == 2 and "--batch needs --target-latency or --target-train-memory" in (
        result.output
    )
    result = CliRunner().invoke(main, ["fit", str(TINY), "--target-latency", "-1",
                                       "--latency-cache", str(tmp_path / "c.json")])  # fmt: skip
    assert result.exit_code == 1 and "the budget must be a positive number" in result.output
    if not torch.cuda.is_available():
        result = CliRunner().invoke(main, ["fit", str(TINY), "--target-latency", "5",
                                           "--device", "cuda"])  # fmt: skip
        assert result.exit_code == 1 and "no CUDA device is available" in result.output
