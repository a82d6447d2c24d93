"""The modern ConvNet zoo written as specs: exact parameter counts and the reference's
logits with the reference's weights imported by structure (BN statistics randomised first,
eval mode, at the spec's resolution)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
timm = pytest.importorskip("timm")

import specc  # noqa: E402
from specc.runtime.weights import import_weights  # noqa: E402

SPECS = Path(__file__).resolve().parents[2] / "specs"
FAMILY = Path(__file__).resolve().parents[1] / "data" / "zoo"

# reference name -> (library, factory kwargs, spec, compile kwargs)
CASES = {
    "mobilenet_v3_large": ("torchvision", {}, "mobilenet_v3_large.yaml", {}),
    "mobilenet_v3_large_075": (
        "torchvision",
        {"width_mult": 0.75},
        "mobilenet_v3_large.yaml",
        {"preset": "w0_75"},
    ),
    "resnext50_32x4d": ("torchvision", {}, "resnext50_32x4d.yaml", {}),
    "regnet_y_400mf": ("torchvision", {}, "regnet_y_400mf.yaml", {}),
    "convnext_tiny": ("torchvision", {}, "convnext_tiny.yaml", {}),
    "mixnet_s": ("timm", {}, "mixnet_s.yaml", {}),
    "fbnetc_100": ("timm", {}, "fbnetc_100.yaml", {}),
    **{
        f"tf_efficientnet_lite{i}": ("timm", {}, "efficientnet_lite.yaml", {"preset": f"lite{i}"})
        for i in range(5)
    },
}


# Other members of the same families, written the same way (tests/data/zoo).
FAMILY_CASES = {
    "mobilenet_v3_small": ("torchvision", {}, FAMILY / "mobilenet_v3_small.yaml", {}),
    "regnet_x_400mf": ("torchvision", {}, FAMILY / "regnet_x_400mf.yaml", {}),
    "convnext_small": ("torchvision", {}, FAMILY / "convnext_small.yaml", {}),
    "lcnet_100": ("timm", {}, FAMILY / "lcnet_100.yaml", {}),
    "efficientnet_es": ("timm", {}, FAMILY / "efficientnet_es.yaml", {}),
}
# Plain-CNN parts and newer block internals (issue 17), tests/data/zoo.
NEW_PARTS = {
    "convnextv2_atto": ("timm", {}, FAMILY / "convnextv2_atto.yaml", {}),
    "resnet50d": ("timm", {}, FAMILY / "resnet50d.yaml", {}),
    "efficientnetv2_rw_s": ("timm", {}, FAMILY / "efficientnetv2_rw_s.yaml", {}),
    "vgg11_bn": ("torchvision", {}, FAMILY / "vgg11_bn.yaml", {}),
    "mobilenetv4_conv_small": ("timm", {}, FAMILY / "mobilenetv4_conv_small.yaml", {}),
}
NO_NORM = [f"stages[{i}].norm=false" for i in range(4)]
FAMILY_CASES["vgg11"] = (
    "torchvision",
    {},
    FAMILY / "vgg11_bn.yaml",
    {"overrides": ["stem.norm=false", *NO_NORM]},
)
FAMILY_CASES.update(NEW_PARTS)
CASES.update(FAMILY_CASES)


def reference_model(name: str):
    library, kwargs, _, _ = CASES[name]
    if library == "timm":
        return timm.create_model(name, pretrained=False, **kwargs)
    factory = name.removesuffix("_075")
    return getattr(torchvision.models, factory)(weights=None, **kwargs)


def randomised(model):
    """Random norm statistics and affine terms, so no norm is the identity."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d | torch.nn.LayerNorm):
            shape = module.weight.shape
            module.weight.data.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(shape, generator=generator) - 0.5)
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(shape, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
        if type(module).__name__ == "GlobalResponseNorm":  # zeros: the identity
            module.weight.data.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(module.bias.shape, generator=generator) - 0.5)
        scale = getattr(module, "layer_scale", getattr(module, "gamma", None))
        if isinstance(scale, torch.nn.Parameter):  # ConvNeXt's 1e-6 would hide the branch
            scale.data.copy_(torch.rand(scale.shape, generator=generator) + 0.5)
    return model.eval()


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_parameter_count(name):
    _, _, spec, kwargs = CASES[name]
    arch = specc.compile(SPECS / spec, **kwargs)
    reference = reference_model(name)
    assert arch.params == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("name", sorted(CASES))
def test_imported_weights_give_the_reference_logits(name):
    torch.manual_seed(0)
    _, _, spec, kwargs = CASES[name]
    arch = specc.compile(SPECS / spec, **kwargs)
    reference = randomised(reference_model(name))
    model = specc.instantiate(arch).eval()
    import_weights(model, reference.state_dict())
    x = torch.randn(2, 3, arch.resolved.resolution, arch.resolved.resolution)
    with torch.no_grad():
        expected, actual = reference(x), model(x)
    error = (actual - expected).abs().max() / expected.abs().max()
    assert error < 1e-5, f"max |diff| / max |ref| = {error:.3g}"


@pytest.mark.parametrize("spec", ["mobilenet_v3_large", "regnet_y_400mf", "convnext_tiny",
                                  "mixnet_s", "fbnetc_100", "resnext50_32x4d",
                                  "efficientnet_lite"])  # fmt: skip
@pytest.mark.parametrize("phi", [1, 2])
def test_scaled_members_run_and_match_the_analysis(spec, phi):
    arch = specc.compile(SPECS / f"{spec}.yaml", phi=phi)
    model = specc.instantiate(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == arch.params
    size = arch.resolved.resolution
    with torch.no_grad():
        out = model(torch.randn(1, 3, size, size))
    assert out.shape == (1, arch.resolved.num_classes)


@pytest.mark.parametrize("spec", sorted(NEW_PARTS))
@pytest.mark.parametrize("phi", [1, 2])
def test_new_part_members_have_the_reported_params_and_feature_shapes(spec, phi):
    arch = specc.compile(NEW_PARTS[spec][2], phi=phi)
    model = specc.instantiate(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == arch.params
    size = arch.resolved.resolution
    with torch.no_grad():
        features = model.features(torch.randn(1, 3, size, size))
    assert [tuple(f.shape[1:]) for f in features] == [e.shape for e in arch.endpoints()]


@pytest.mark.parametrize("size", [225, 240, 97])
def test_tf_same_padding_is_right_at_any_input_size(size):
    """Built at 224 with TF 'same' padding, the module pads as TensorFlow does for whatever
    size it is fed (timm's tf_ port computes it per input too)."""
    torch.manual_seed(0)
    reference = randomised(timm.create_model("tf_efficientnet_b0", pretrained=False))
    arch = specc.compile(SPECS / "b0.yaml", preset="b0", overrides=["defaults.padding=same"])
    model = specc.instantiate(arch).eval()
    import_weights(model, reference.state_dict())
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected, actual = reference(x), model(x)
    assert (actual - expected).abs().max() / expected.abs().max() < 1e-5


BAD_FIELDS = {
    # more kernels than channels to split over them
    "mixed kernel": (
        "mixnet_s.yaml", "kernel: [3, 5, 7], stride: 2, expand: 6, channels: 40",
        "kernel: [3, 5, 7], stride: 2, expanded: 2, channels: 40",
        "cannot be split over 3 kernels",
    ),
    "groups": (
        "resnet50.yaml", "channels: 256, repeats: 3}", "channels: 256, repeats: 3, groups: 3}",
        "3 groups do not divide",
    ),
    "layer scale": (
        "convnext_tiny.yaml", "channels: 192, repeats: 3}",
        "channels: 192, repeats: 3, skip: false}", "cannot have one",
    ),
    "even kernel": ("convnext_tiny.yaml", "stride: 4, channels: 96", "stride: 2, channels: 96",
                    "patchify conv and needs stride == kernel"),
    "kernel list": (
        "resnet50.yaml", "kernel: 3, stride: 2, channels: 512",
        "kernel: [3, 5], stride: 2, channels: 512", "takes one kernel size",
    ),
    "both widths": (
        "mobilenet_v3_large.yaml", "expanded: 64, channels: 24",
        "expanded: 64, expand: 4, channels: 24", "either `expand`",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_FIELDS))
def test_bad_part_fields_are_located_and_nothing_is_written(tmp_path, case):
    from click.testing import CliRunner

    from specc.cli import main

    spec, old, new, message = BAD_FIELDS[case]
    text = (SPECS / spec).read_text()
    assert old in text
    path = tmp_path / "bad.yaml"
    # Unrounded widths (divisor 1), so that a width can be smaller than the kernel count.
    path.write_text(text.replace(old, new, 1).replace("divisor: 8,", "divisor: 1,"))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(path), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if new in t)
    assert f"{path}:{line}:" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


BAD_NEW_OPTIONS = {
    # spec, old text, new text, field path, message
    "pool padding": (
        "vgg11_bn.yaml", "channels: 128, repeats: 1, bias: true, pool: {kind: max, kernel: 2,",
        "channels: 128, repeats: 1, bias: true, pool: {kind: max, padding: 2, kernel: 2,",
        "stages[0].pool", "padding must be at most half the kernel",
    ),
    "max pool divisor": (
        "vgg11_bn.yaml", "channels: 256, repeats: 2, bias: true, pool: {kind: max,",
        "channels: 256, repeats: 2, bias: true, pool: {count_include_pad: false, kind: max,",
        "stages[1].pool", "count_include_pad is for average pools",
    ),
    "pool size": ("vgg11_bn.yaml", "pool_size: 7", "pool_size: 0", "classifier.pool_size",
                  "greater than or equal to 1"),
    "hidden dropout": ("vgg11_bn.yaml", "{channels: 4096, dropout: 0.5}",
                       "{channels: 4096, dropout: 1.5}", "classifier.hidden[0].dropout",
                       "less than 1"),
    "conv bias": ("vgg11_bn.yaml", "repeats: 1, bias: true", "repeats: 1, bias: 1",
                  "stages[0].bias", "expected true or false"),
    "deep stem": ("resnet50d.yaml", "deep: [32, 32]", "deep: [32, -1]", "stem.deep[1]",
                  "greater than or equal to 1"),
    "shortcut": ("resnet50d.yaml", "repeats: 3, shortcut: avg_down}",
                 "repeats: 3, shortcut: avgdown}", "stages[0].shortcut", "'avg_down'"),
    "grn": ("convnextv2_atto.yaml", "repeats: 2, grn: true", "repeats: 2, grn: 2",
            "stages[0].grn", "expected true or false"),
    "edge residual": ("efficientnetv2_rw_s.yaml", "expand: 1, expand_conv: always",
                      "expand: 1, expand_conv: sometimes", "stages[0].expand_conv", "'always'"),
    "stem padding": ("squeezenet1_1.yaml", "  padding: 0", "  padding: 2", "stem.padding",
                     "padding must be at most half the kernel"),
    "stem block": ("repvgg_a0.yaml", "stem: {block: repvgg,", "stem: {block: repvg,",
                   "stem.block", "unknown stem block 'repvg'"),
    "stem block conv field": ("repvgg_a0.yaml", "stem: {block: repvgg, stride: 2,",
                              "stem: {block: repvgg, bias: true, stride: 2,", "stem.bias",
                              "the stem block 'repvgg' ignores it"),
    "conv classifier": ("squeezenet1_1.yaml", "{conv: true, dropout: 0.5}",
                        "{conv: true, dropout: 0.5, pool_size: 7}", "classifier",
                        "takes no pool_size"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_NEW_OPTIONS))
def test_bad_new_options_are_located_and_nothing_is_written(tmp_path, case):
    from click.testing import CliRunner

    from specc.cli import main

    spec, old, new, field, message = BAD_NEW_OPTIONS[case]
    text = (FAMILY / spec).read_text()
    assert old in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(path), "--out", str(out)])
    assert result.exit_code == 1, result.output
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if new in t)
    assert f"{path}:{line}:" in result.output and f"{field}:" in result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
