"""The block library through the specs that use it: counts, scaling, module vs IR."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

SPECS = Path(__file__).resolve().parents[2] / "specs"

# Trainable parameters: torchvision's counts (mobilenet_v1: the paper's 4.2 M, exactly).
BASELINES = {
    "resnet50": (25_557_032, 4.09),
    "resnet18": (11_689_512, 1.81),
    "mobilenet_v2": (3_504_872, 0.30),
    "mobilenet_v1": (4_231_976, 0.57),
    "efficientnet_v2_s": (21_458_488, 8.37),
}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_have_the_reference_counts(name):
    arch = specc.compile(SPECS / f"{name}.yaml")
    params, gmacs = BASELINES[name]
    assert arch.params == params
    assert arch.macs / 1e9 == pytest.approx(gmacs, abs=0.01)


def test_every_spec_validates_with_its_presets():
    from specc.api import validate_spec

    for path in sorted(SPECS.glob("*.yaml")):
        validate_spec(path)


def test_resnet_depth_scales_blocks_and_width_scales_channels():
    base = specc.compile(SPECS / "resnet50.yaml")
    scaled = specc.compile(SPECS / "resnet50.yaml", phi=2)
    assert [s.repeats for s in scaled.resolved.stages] == [5, 6, 9, 5]  # ceil(n * 1.44)
    # The inner width is rounded to a multiple of 8, the output is 4x it:
    # 64, 128, 256, 512 x 1.21 = 77.4, 154.9, 309.8, 619.5 -> 80, 152, 312, 616.
    assert [s.out_channels for s in scaled.resolved.stages] == [320, 608, 1248, 2464]
    assert scaled.resolved.resolution == 288  # 224 * 1.3225 = 296.2 -> nearest multiple of 32
    assert scaled.params > base.params


def test_mobilenet_v2_head_never_narrower_than_1280():
    narrow = specc.compile(SPECS / "mobilenet_v2.yaml", preset="w0_5")
    wide = specc.compile(SPECS / "mobilenet_v2.yaml", preset="w1_4")
    assert narrow.resolved.head is not None and narrow.resolved.head.out_channels == 1280
    assert wide.resolved.head is not None and wide.resolved.head.out_channels == 1792


def test_stem_pool_and_resnet_endpoints():
    arch = specc.compile(SPECS / "resnet50.yaml")
    assert arch.shape_of("stem") == (64, 56, 56)
    # The stem conv's stride-2 map comes first, as timm's features_only gives it.
    assert [e.reduction for e in arch.endpoints()] == [2, 4, 8, 16, 32]
    assert [e.shape for e in arch.endpoints()][:2] == [(64, 112, 112), (256, 56, 56)]
    assert [e.shape[0] for e in arch.endpoints()] == [64, 256, 512, 1024, 2048]


def test_forced_identity_shortcut_fails_validation_at_its_stage(tmp_path):
    text = (SPECS / "resnet50.yaml").read_text()
    old = "{block: bottleneck, kernel: 3, stride: 1, channels: 256, repeats: 3}"
    new = "{block: bottleneck, kernel: 3, stride: 1, channels: 256, repeats: 3, shortcut: identity}"
    path = tmp_path / "resnet.yaml"
    path.write_text(text.replace(old, new))
    with pytest.raises(specc.SpecError) as excinfo:
        specc.compile(path)
    (diagnostic,) = excinfo.value.diagnostics
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "identity" in t)
    assert str(diagnostic).startswith(f"{path}:{line}:")
    assert "stages.0.0.add: shape mismatch at residual add: 256x56x56 vs 64x56x56" in str(
        diagnostic
    )


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("phi", [-1, 0, 1, 2, 3])
def test_generated_module_matches_the_ir(name, phi):
    torch.set_num_threads(2)
    arch = specc.compile(SPECS / f"{name}.yaml", phi=phi)
    model = specc.instantiate(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == arch.params
    size = arch.resolved.resolution
    with torch.inference_mode():
        logits = model(torch.randn(1, 3, size, size))
        features = model.features(torch.randn(1, 3, size, size))
    assert tuple(logits.shape[1:]) == arch.output_shape
    assert [tuple(f.shape[1:]) for f in features] == [e.shape for e in arch.endpoints()]


def test_conv_stages_with_a_residual(tmp_path):
    """timm's `cn` block with `skip`: a conv-norm-act stage block whose residual is used
    where the shape is kept; the module matches the IR and adds its input back."""
    torch = pytest.importorskip("torch")
    spec = tmp_path / "cn.yaml"
    spec.write_text(
        "format: 1\nname: cn\ninput: {resolution: 32}\nnum_classes: 4\n"
        "stem: {channels: 16, stride: 2}\n"
        "stages:\n"
        "  - {block: conv, kernel: 3, stride: 1, channels: 16, repeats: 2, skip: true}\n"
        "  - {block: conv, kernel: 3, stride: 2, channels: 24, repeats: 2, skip: true}\n"
        "  - {block: conv, kernel: 1, stride: 1, channels: 32}\n"
        "scaling: {drop_path: 0.1}\n"
    )
    arch = specc.compile(spec)
    nodes = arch.graph.nodes
    assert "stages.0.0.add" in nodes and "stages.1.1.add" in nodes
    assert "stages.1.0.add" not in nodes and "stages.2.0.add" not in nodes  # shape changes
    model = specc.instantiate(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == arch.params
    block = model.stages[0][0]
    x = torch.randn(1, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(block(x), block.act(block.bn(block.conv(x))) + x)
