"""The pooling ops and the global response norm: the IR's output sizes are PyTorch's (ceil
mode included), GRN counts timm's parameters, bad pools are reported, and the module code
written for a pool is the module the IR describes."""

from __future__ import annotations

import pytest

from specc.blocks.parts.pooling import pool_code
from specc.ir.graph import GraphBuilder, Scope
from specc.ir.nodes import GRN, AdaptiveAvgPool, AvgPool, Input, MaxPool
from specc.passes.validate import validate

torch = pytest.importorskip("torch")
nn = torch.nn

POOLS = [
    MaxPool(2, 2, 0),
    MaxPool(2, 2, 0, ceil_mode=True),
    MaxPool(3, 2, 1),
    MaxPool(3, 2, 0, ceil_mode=True),  # SqueezeNet's
    AvgPool(2, 2, 0, ceil_mode=True, count_include_pad=False),  # timm's ResNet-D shortcut
    AvgPool(3, 2, 1, ceil_mode=True),
    AvgPool(2, 1, 1),
    AdaptiveAvgPool(7),
]


@pytest.mark.parametrize("op", POOLS, ids=repr)
@pytest.mark.parametrize("size", [1, 2, 6, 7, 13, 14, 55])
def test_pool_sizes_and_values_are_pytorchs(op, size):
    if not isinstance(op, AdaptiveAvgPool) and size + 2 * op.padding < op.kernel:
        pytest.skip("the window does not fit; PyTorch refuses it too")
    module = eval(pool_code(op).text, {"nn": nn})  # the code model.py gets
    x = torch.randn(1, 3, size, size)
    assert tuple(module(x).shape[1:]) == op.infer([(3, size, size)])
    assert module.ceil_mode == op.ceil_mode if hasattr(module, "ceil_mode") else True
    if isinstance(op, AvgPool):
        assert module.count_include_pad == op.count_include_pad


def test_pool_code_leaves_out_pytorchs_defaults():
    assert pool_code(MaxPool(2, 2, 0)).text == "nn.MaxPool2d(2, 2)"
    assert pool_code(AvgPool(2, 2, 0, True, False)).text == (
        "nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)"
    )


def _graph(op):
    builder = GraphBuilder()
    x = builder.add("input", Input((8, 14, 14)), [], Scope("input"))
    out = builder.add("op", op, [x], Scope("stage", 0, 0))
    builder.graph.graph.update(input=x, output=out)
    return builder.graph


@pytest.mark.parametrize(
    ("op", "message"),
    [
        (MaxPool(2, 2, 2), "maxpool padding 2 over half its kernel 2"),
        (AvgPool(3, 2, 2), "avgpool padding 2 over half its kernel 3"),
        (AvgPool(2, 0, 0), "below 1"),
        (MaxPool(32, 1, 0), "collapses below 1"),
        (AdaptiveAvgPool(0), "adaptive pool to a 0x0 map"),
    ],
)
def test_bad_pools_are_reported(op, message):
    problems = validate(_graph(op))
    assert any(p.node == "op" and message in p.message for p in problems), problems


def test_grn_counts_timms_parameters_and_keeps_the_shape():
    grn = pytest.importorskip("timm.layers.grn")

    reference = grn.GlobalResponseNorm(8, channels_last=False)
    op = GRN()
    assert op.infer([(8, 14, 14)]) == (8, 14, 14)
    assert op.params([(8, 14, 14)], (8, 14, 14)) == sum(p.numel() for p in reference.parameters())
    assert validate(_graph(op)) == []
