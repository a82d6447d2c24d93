"""Fitting a budget with built models, not the formula."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.cli import main
from specc.tools.fit import fit

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.mark.parametrize(
    ("spec", "metric", "budget"),
    [("resnet50.yaml", "macs", 16.7e9), ("resnet50.yaml", "params", 60e6),
     ("b0.yaml", "params", 30e6), ("b0.yaml", "macs", 0.2e9)],
)  # fmt: skip
def test_fit_is_under_budget_and_the_next_step_is_over(spec, metric, budget):
    loaded = specc.load(SPECS / spec)
    result = fit(loaded, metric=metric, budget=budget)
    size = result.size(result.arch)
    assert size <= budget
    assert result.next_arch is not None and result.size(result.next_arch) > budget
    assert 0 < result.next_phi - result.phi <= 2e-4
    # The reported phi rebuilds the same model through the ordinary compiler.
    rebuilt = specc.compile(loaded, phi=result.phi)
    assert (rebuilt.params, rebuilt.macs) == (result.arch.params, result.arch.macs)


def test_fit_cli_prints_phi_and_the_step_above():
    result = CliRunner().invoke(
        main, ["fit", str(SPECS / "resnet50.yaml"), "--target-macs", "16.7e9", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["macs"] <= 16.7e9 < data["next_size"]
    assert data["phi"] > 2  # 4.1 GMACs x ~1.9^phi: compound-scaled ResNet-50 sits near phi 2.2


def test_budget_below_the_smallest_model():
    result = CliRunner().invoke(main, ["fit", str(SPECS / "b0.yaml"), "--target-params", "1000"])
    assert result.exit_code == 1
    assert "no buildable phi gives a model within 1,000 params" in result.output


@pytest.mark.parametrize(
    ("option", "budget", "said"),
    [("--target-macs", "1", "1 MACs"), ("--target-train-memory", "1KiB", "1 KiB training")],
)
def test_a_budget_too_small_names_its_option_as_typed(option, budget, said):
    result = CliRunner().invoke(main, ["fit", str(SPECS / "b0.yaml"), option, budget])
    assert result.exit_code == 1
    assert option in result.output and said in result.output, result.output


@pytest.mark.parametrize("args", [[], ["--target-macs", "1e9", "--target-params", "1e6"]])
def test_fit_needs_exactly_one_budget(args):
    result = CliRunner().invoke(main, ["fit", str(SPECS / "b0.yaml"), *args])
    assert result.exit_code == 2
    assert (
        "exactly one of --target-macs, --target-params, --target-latency and "
        "--target-train-memory" in result.output
    )
