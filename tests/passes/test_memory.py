"""Training memory from the IR (no torch): every op has a rule, the step's parts follow
the recipe, sizes parse, and `fit --target-train-memory` answers without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar

import pytest

import specc
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import OPS, Act, Input, OpBase
from specc.lang.sizes import format_bytes, parse_size
from specc.passes.memory import RULES, Setting, saved_bytes

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_every_ir_op_class_has_a_rule():
    assert set(OPS) <= set(RULES), "add a rule to specc.passes.memory.RULES"


def test_an_op_without_a_rule_is_a_clear_error():
    @dataclass(frozen=True)
    class Mystery(OpBase):
        name: ClassVar[str] = "mystery"

    builder = GraphBuilder()
    builder.add("input", Input((3, 8, 8)), [], Scope("stem"))
    builder.add("odd", Mystery(), ["input"], Scope("stem"))
    with pytest.raises(KeyError, match="no rule for the IR op Mystery"):
        saved_bytes(builder.graph, Setting())


def test_relu_saves_its_output_silu_its_input():
    """A non-in-place ReLU's output is what the next op saves too: one storage."""
    sizes = {}
    for fn in ("relu", "silu"):
        builder = GraphBuilder()
        builder.add("input", Input((4, 8, 8)), [], Scope("stem"))
        builder.add("a", Act(fn), ["input"], Scope("stem"))
        builder.add("b", Act(fn), ["a"], Scope("stem"))
        sizes[fn] = saved_bytes(builder.graph, Setting()).per_image
    assert sizes == {"relu": 2 * 4 * 8 * 8 * 4, "silu": 2 * 4 * 8 * 8 * 4}


def test_autocast_halves_the_activations_and_checkpointing_cuts_them():
    arch = specc.compile(ROOT / "specs" / "b0.yaml", preset="b0")
    fp32 = arch.step_memory("float32", grad_checkpointing=False)
    bf16 = arch.step_memory("bfloat16", grad_checkpointing=False)
    cut = arch.step_memory("bfloat16", grad_checkpointing=True)
    assert bf16.saved.per_image < 0.55 * fp32.saved.per_image
    assert cut.saved.per_image < 0.5 * bf16.saved.per_image
    assert 0.2 < arch.checkpoint_cost() < 1 / 3


def test_the_optimiser_and_ema_count_as_the_recipe_says():
    spec = ROOT / "specs" / "b0.yaml"
    rms = specc.compile(spec).step_memory()
    assert rms.optimiser == 2 * 4 * rms.gradients // 4 and rms.ema == rms.weights
    sgd = specc.compile(
        spec, overrides=["training.opt=sgd", "training.model_ema=false"]
    ).step_memory()
    assert sgd.optimiser == sgd.gradients and sgd.ema == 0


def test_max_batch_is_the_largest_that_fits():
    step = specc.compile(ROOT / "specs" / "b0.yaml").step_memory()
    budget = parse_size("24GiB")
    batch = step.max_batch(budget)
    assert step.peak(batch) <= budget < step.peak(batch + 1)
    assert step.max_batch(step.fixed) == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [("24GiB", 24 * 1024**3), ("24GB", 24 * 10**9), ("500MiB", 500 * 1024**2),
     ("1.5 TiB", int(1.5 * 1024**4)), ("4096", 4096), ("2g", 2 * 1024**3)],
)  # fmt: skip
def test_sizes_parse(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["24XB", "GiB", "", "-1GB", "0MiB", "nan GiB"])
def test_bad_sizes_say_what_is_wrong(text):
    with pytest.raises(ValueError, match=r"size|unit"):
        parse_size(text)


def test_sizes_print_in_binary_units():
    assert [format_bytes(v) for v in (512, 3 * 1024**2 + 1024**2 // 4, 80 * 1024**3)] == [
        "512 B", "3.25 MiB", "80 GiB",
    ]  # fmt: skip


def run_specc(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys, runpy; sys.argv = ['specc', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('specc', run_name='__main__')\n"
        "finally:\n    print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT
    )


def test_fit_train_memory_is_the_largest_phi_under_the_budget_without_torch():
    done = run_specc(
        "fit", "specs/b0.yaml", "--target-train-memory", "24GiB", "--batch", "64", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("NO-TORCH")
    data = json.loads(done.stdout)
    budget = 24 * 1024**3
    assert data["train_memory"]["peak"] <= budget < data["next_size"]
    chosen = specc.compile(ROOT / "specs" / "b0.yaml", phi=data["phi"])
    assert chosen.step_memory().peak(64) == data["train_memory"]["peak"]
    above = specc.compile(ROOT / "specs" / "b0.yaml", phi=data["next_phi"])
    assert above.step_memory().peak(64) > budget


def test_a_bad_size_is_a_usage_error_naming_the_option():
    done = run_specc("fit", "specs/b0.yaml", "--target-train-memory", "24XB")
    assert done.returncode == 2
    assert "--target-train-memory" in done.stderr and "unknown unit 'XB'" in done.stderr
    assert "Traceback" not in done.stderr


def test_show_prints_the_memory_within_80_columns_and_json_has_the_bytes():
    shown = run_specc("show", "specs/b0.yaml", "--preset", "b4", "--max-batch", "80GiB")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "training memory" in line)
    assert all(len(line) <= 80 for line in lines[start : start + 5])
    assert "largest batch in 80 GiB" in shown.stdout
    data = json.loads(run_specc("show", "specs/b0.yaml", "--json").stdout)
    saved = data["train_memory"]["saved_activations_per_image"]
    assert saved["float32"] > saved["bfloat16"] > 0
