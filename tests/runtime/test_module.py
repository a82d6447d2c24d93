"""The generated PyTorch module against the IR: parameters, shapes, endpoints, tracing."""

from __future__ import annotations

from collections import defaultdict

import pytest

torch = pytest.importorskip("torch")

import specc  # noqa: E402

SELECTORS = [{"preset": name} for name in ("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8")]
SELECTORS += [{"preset": "l2"}]
SELECTORS += [{"phi": phi} for phi in (-1, 0, 0.5, 1, 2, 3, 4, 5, 6, 7, 8)]


def trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.fixture(scope="module", autouse=True)
def _threads():
    torch.set_num_threads(2)
    torch.manual_seed(0)


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: "-".join(map(str, s.values())))
def test_module_matches_the_ir(b0, selector):
    arch = specc.compile(b0, **selector)
    model = specc.instantiate(arch).eval()
    assert trainable(model) == arch.params

    # Every IR node's parameters sit under the module path of the same name.
    per_prefix: dict[str, int] = defaultdict(int)
    for name, parameter in model.named_parameters():
        per_prefix[name.rsplit(".", 1)[0]] += parameter.numel()
    ir = {n: d["params"] for n, d in arch.graph.nodes(data=True) if d["params"]}
    assert per_prefix == ir

    size = arch.resolved.resolution
    with torch.inference_mode():
        logits = model(torch.randn(1, 3, size, size))
    assert tuple(logits.shape[1:]) == arch.output_shape


@pytest.mark.parametrize("selector", [{"preset": "b0"}, {"phi": -1}, {"phi": 6}])
def test_feature_endpoints_match_the_ir(b0, selector):
    arch = specc.compile(b0, **selector)
    model = specc.instantiate(arch).eval()
    size = arch.resolved.resolution
    with torch.inference_mode():
        features = model.features(torch.randn(1, 3, size, size))
        pooled = model.forward_features(torch.randn(1, 3, size, size))
    assert [tuple(f.shape[1:]) for f in features] == [e.shape for e in arch.endpoints()]
    assert model.FEATURE_REDUCTIONS == (2, 4, 8, 16, 32)
    assert tuple(pooled.shape[1:]) == arch.shape_of("head")


def test_same_padding_keeps_tf_output_sizes(b0):
    loaded = specc.load(b0.file, ["defaults.padding=same"])
    arch = specc.compile(loaded, preset="b0")
    model = specc.instantiate(arch).eval()
    with torch.inference_mode():
        features = model.features(torch.randn(2, 3, 224, 224))
    assert [tuple(f.shape[1:]) for f in features] == [e.shape for e in arch.endpoints()]
    assert features[0].shape[-1] == 112


def test_module_trains_and_drop_path_is_active_only_in_training(b0):
    model = specc.instantiate(specc.compile(b0, phi=-4))
    x = torch.randn(4, 3, 64, 64)
    model.train()
    loss = model(x).logsumexp(dim=1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.inference_mode():
        assert torch.equal(model(x), model(x))


def test_torch_compile_traces_without_graph_breaks(b0):
    model = specc.instantiate(specc.compile(b0, phi=-4)).eval()
    x = torch.randn(2, 3, 64, 64)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


def test_torch_export(b0):
    model = specc.instantiate(specc.compile(b0, phi=-4)).eval()
    x = torch.randn(2, 3, 64, 64)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model(x))


def test_instantiate_from_a_written_folder(b0, tmp_path):
    arch = specc.compile(b0, phi=-2)
    specc.write(arch, tmp_path / "out")
    model = specc.instantiate(tmp_path / "out")
    assert trainable(model) == arch.params
    assert type(model).__name__ == "EfficientNet"
