"""Every generated constructor call fits its class: whatever combination of a kind's fields
validates emits only arguments the class takes (the plan decides once; the call states it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import specc
from specc.blocks.registry import BUILTIN

SPLITS = """\
format: 1
name: splits
input: {channels: 3, resolution: 32}
num_classes: 10
stem: {kernel: 3, stride: 2, channels: 16}
stages:
  - {block: mbconv, kernel: 3, channels: 16, expand: 1, expand_splits: 2, project_splits: 2}
  - {block: mbconv, kernel: 3, stride: 2, channels: 24, expand: 1, expand_splits: 2}
  - {block: mbconv, kernel: [3, 5], channels: 24, expand: 2, expand_splits: 2}
"""


def test_split_expansion_without_an_expansion_conv_builds_a_model_that_loads(tmp_path):
    """expand 1 with expand_splits: no expansion conv, so no expand_kernel argument (the
    call once passed one, and MBConv only takes it under mixed kernels)."""
    torch = pytest.importorskip("torch")
    spec = tmp_path / "splits.yaml"
    spec.write_text(SPLITS)
    arch = specc.compile(spec)
    specc.write(arch, tmp_path / "out")
    model = specc.load_model(tmp_path / "out")
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == arch.params
    source = (tmp_path / "out" / "model.py").read_text()
    first = next(line for line in source.splitlines() if "MBConv(16, 16" in line)
    assert "expand_kernel" not in first and "project_kernel=(1, 1)" in first


def test_a_call_its_class_does_not_take_fails_the_build(tmp_path, monkeypatch):
    """An emitter whose arguments disagree with its template is caught when building, as a
    located error, not when the user instantiates model.py."""
    kind = BUILTIN["mbconv"]
    broken = dataclasses.replace(
        kind.emitter, arguments=lambda plan, ctx: [*kind.emitter.arguments(plan, ctx), ("x", 1)]
    )
    monkeypatch.setitem(BUILTIN, "mbconv", dataclasses.replace(kind, emitter=broken))
    arch = specc.compile(Path(__file__).resolve().parents[2] / "specs" / "b0.yaml")
    with pytest.raises(specc.SpecError, match=r"MBConv\(\.\.\.\) call passes keyword\(s\) x"):
        specc.emit_pytorch(arch)
