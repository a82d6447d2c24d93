"""model.fuse(): batch norm folded into the convolutions, outputs unchanged in fp32."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc
from specc.blocks.registry import KINDS

torch = pytest.importorskip("torch")

from specc.runtime.deploy.inference import (  # noqa: E402
    count_macs,
    count_params,
    randomize_batch_norm,
)
from specc.runtime.model import load_model  # noqa: E402

EVERY_KIND = Path(__file__).resolve().parents[1] / "data" / "every_kind.yaml"


def test_the_test_network_has_every_block_kind():
    arch = specc.compile(EVERY_KIND)
    kinds = {stage.kind for stage in arch.resolved.stages} | {"conv"}  # stem and head
    assert kinds == set(KINDS), "add a stage of the new kind to tests/data/every_kind.yaml"


def test_fused_outputs_equal_unfused_for_every_kind_and_padding(every_kind_folder):
    model = load_model(every_kind_folder).eval()
    randomize_batch_norm(model, seed=1)
    x = torch.randn(4, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        fused = model.fuse()
        actual = fused(x)
    assert fused is model and not model.training
    # every conv-norm-act part's batch norm is folded (mixed convs too, split by split)
    assert not any(
        isinstance(getattr(m, "bn", None), torch.nn.BatchNorm2d) for m in model.modules()
    )
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    assert not any(type(m).__name__ == "DropPath" for m in model.modules())
    acts = [m.act for m in model.modules() if hasattr(m, "conv") and hasattr(m, "act")]
    assert acts and all(a.inplace for a in acts if hasattr(a, "inplace"))
    relative = (actual - expected).abs().max() / expected.abs().max()
    assert relative < 1e-5
    # the logits are not trivially small: the test would notice a wrong fold
    assert expected.abs().max() > 1e-2


def test_fused_counts_differ_from_the_ir_by_one_parameter_per_folded_channel(every_kind_folder):
    arch_params = specc.compile(EVERY_KIND).params
    model = load_model(every_kind_folder).eval()
    # the norms of conv-norm-act parts (a ConvNeXt block's own norm stays): each channel's
    # weight and bias become one conv bias, or none where the conv had a bias already (VGG)
    norms = sum(
        m.bn.num_features * (2 if getattr(m.conv, "bias", None) is not None else 1)
        for m in model.modules()
        if isinstance(getattr(m, "bn", None), torch.nn.BatchNorm2d)
    )
    assert count_params(model) == arch_params
    unfused_macs = count_macs(model, (3, 40, 40))
    model.fuse()
    assert count_params(model) == arch_params - norms
    assert count_macs(model, (3, 40, 40)) == unfused_macs == specc.compile(EVERY_KIND).macs


def test_fused_model_compiles_without_graph_breaks(every_kind_folder):
    model = load_model(every_kind_folder, fuse=True)
    x = torch.randn(2, 3, 40, 40)
    explanation = torch._dynamo.explain(model)(x)
    assert explanation.graph_break_count == 0
