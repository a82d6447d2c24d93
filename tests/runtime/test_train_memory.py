"""The IR's training-memory prediction against PyTorch: for every shipped spec, the bytes
autograd saves for backward in one training step of the generated module (counted once
per storage, `specc.runtime.memory`) equal the prediction exactly, in fp32 and under
bf16 autocast, at two batch sizes (so per-image and per-step bytes are both checked)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import specc  # noqa: E402
from specc.build.architecture import Architecture  # noqa: E402
from specc.diagnostics import SpecError  # noqa: E402
from specc.passes.memory import Setting, saved_bytes  # noqa: E402
from specc.runtime.memory import measure_saved  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(
    [
        *ROOT.glob("specs/*.yaml"),
        *ROOT.glob("tests/data/*.yaml"),
        *ROOT.glob("tests/data/zoo/*.yaml"),
    ]
)
CASES = [(path, ()) for path in SPECS] + [
    (ROOT / "specs" / "b0.yaml", ("defaults.padding=same",)),  # TF 'same': padded copies
]


def small(path: Path, overrides: tuple[str, ...]) -> Architecture:
    """The spec at a small resolution: 32, or 64 where a batch norm would see a 1x1 map
    (batch norm refuses one value per channel in training, at batch 1), or its own where
    neither builds."""
    for size in (32, 64):
        try:
            arch = specc.compile(path, overrides=[f"input.resolution={size}", *overrides])
        except SpecError:
            continue
        if all(
            math.prod(arch.graph.nodes[data["inputs"][0]]["shape"][1:]) > 1
            for _, data in arch.graph.nodes(data=True)
            if data["op"].name == "norm"
        ):
            return arch
    return specc.compile(path, overrides=list(overrides))


@pytest.mark.parametrize(
    ("path", "overrides"), CASES, ids=[f"{p.stem}{'-same' if o else ''}" for p, o in CASES]
)
def test_predicted_saved_bytes_equal_the_measured(path, overrides):
    torch.manual_seed(0)
    arch = small(path, overrides)
    model = specc.instantiate(arch)
    same = arch.resolved.defaults.padding == "same"
    for precision in ("float32", "bfloat16"):
        predicted = saved_bytes(arch.graph, Setting(precision), same_padding=same)
        # a batch norm over flat features (MobileNetV4's head norm) trains on 2 images or more
        flat_norm = any(
            getattr(d["op"], "kind", None) == "batchnorm" and len(d["shape"]) == 1
            for _, d in arch.graph.nodes(data=True)
        )
        for batch in (2, 3) if flat_norm else (1, 2):
            x = torch.randn(batch, *arch.input_shape)
            measured = measure_saved(model, x, precision=precision).saved
            assert measured == predicted.at(batch), (precision, batch)
