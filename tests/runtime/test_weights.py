"""Weight import: torchvision's models and specc's generated ones compute the same logits."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import specc  # noqa: E402
from specc.diagnostics import UserError  # noqa: E402
from specc.runtime.weights import (  # noqa: E402
    import_checkpoint,
    import_weights,
    map_state_dict,
)

SPECS = Path(__file__).resolve().parents[2] / "specs"
TV_EPS = ["defaults.norm.eps=1e-5"]  # torchvision's b0-b4 use PyTorch's default BN eps

CASES = {
    "resnet50": ("resnet50.yaml", {}),
    "resnet18": ("resnet18.yaml", {}),
    "mobilenet_v2": ("mobilenet_v2.yaml", {}),
    "efficientnet_b0": ("b0.yaml", {"preset": "b0", "overrides": TV_EPS}),
    "efficientnet_b4": ("b0.yaml", {"preset": "b4", "overrides": TV_EPS}),
    "efficientnet_v2_s": ("efficientnet_v2_s.yaml", {}),
}


def randomised(model):
    """Random init plus random BN statistics and affine terms, so BN is not the identity."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(module.num_features, generator=generator) - 0.5)
    return model.eval()


@pytest.mark.parametrize("name", sorted(CASES))
def test_imported_weights_give_torchvisions_logits(name):
    torch.manual_seed(0)
    spec, kwargs = CASES[name]
    reference = randomised(getattr(torchvision.models, name)(weights=None))
    model = specc.instantiate(specc.compile(SPECS / spec, **kwargs)).eval()
    import_weights(model, reference.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


def test_cli_import_writes_a_strict_state_dict(tmp_path):
    from click.testing import CliRunner

    from specc.cli import main

    checkpoint = tmp_path / "resnet18.pth"
    torch.save({"state_dict": torchvision.models.resnet18(weights=None).state_dict()}, checkpoint)
    folder = tmp_path / "resnet18"
    specc.write(specc.compile(SPECS / "resnet18.yaml"), folder)
    result = CliRunner().invoke(main, ["weights", "import", str(checkpoint), "--into", str(folder)])
    assert result.exit_code == 0, result.output
    model = specc.instantiate(folder)
    model.load_state_dict(torch.load(folder / "weights.pt", weights_only=True), strict=True)


def test_another_architecture_is_refused_and_nothing_written(tmp_path):
    from click.testing import CliRunner

    from specc.cli import main

    checkpoint = tmp_path / "mnv2.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), checkpoint)
    folder = tmp_path / "resnet18"
    specc.write(specc.compile(SPECS / "resnet18.yaml"), folder)
    result = CliRunner().invoke(main, ["weights", "import", str(checkpoint), "--into", str(folder)])
    assert result.exit_code == 1
    assert "different architectures" in result.output or "does not fit" in result.output
    assert "Traceback" not in result.output
    from specc.build.folder import MANIFEST

    hidden = [p for p in folder.iterdir() if p.name.startswith(".") and p.name != MANIFEST]
    written = [p.name for p in folder.iterdir() if p.suffix == ".pt"] + [p.name for p in hidden]
    assert written == []


def test_mismatch_report_names_both_sides():
    source = {"a.weight": torch.zeros(8, 3, 3, 3), "a.bias": torch.zeros(8)}
    target = {"x.weight": torch.zeros(16, 3, 3, 3), "x.bias": torch.zeros(16)}
    with pytest.raises(UserError) as excinfo:
        map_state_dict(source, target)
    assert excinfo.value.details[0] == (
        "tensor 0: checkpoint a.weight (8, 3, 3, 3) does not fit x.weight (16, 3, 3, 3)"
    )


def test_missing_batch_counters_are_filled():
    source = {"bn.weight": torch.ones(4), "bn.bias": torch.zeros(4)}
    target = {"n.weight": torch.zeros(4), "n.bias": torch.ones(4),
              "n.num_batches_tracked": torch.tensor(7)}  # fmt: skip
    mapped = map_state_dict(source, target)
    assert list(mapped) == list(target)
    assert (
        torch.equal(mapped["n.weight"], torch.ones(4)) and int(mapped["n.num_batches_tracked"]) == 0
    )


def test_unreadable_checkpoint(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    folder = tmp_path / "m"
    specc.write(specc.compile(SPECS / "resnet18.yaml"), folder)
    with pytest.raises(UserError, match="not a loadable checkpoint"):
        import_checkpoint(bad, folder)


TIMM_CASES = {
    # timm's symmetric-padding port (BN eps 1e-5) and its TF ports: 'same' padding, eps 1e-3,
    # which specc computes statically for the built resolution.
    "efficientnet_b0": {"preset": "b0", "overrides": TV_EPS},
    "tf_efficientnet_b0": {"preset": "b0", "overrides": ["defaults.padding=same"]},
    "tf_efficientnet_b3": {"preset": "b3", "overrides": ["defaults.padding=same"]},
}


@pytest.mark.parametrize("name", sorted(TIMM_CASES))
def test_imported_timm_weights_give_timms_logits(name):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    reference = randomised(timm.create_model(name, pretrained=False))
    arch = specc.compile(SPECS / "b0.yaml", **TIMM_CASES[name])
    model = specc.instantiate(arch).eval()
    import_weights(model, reference.state_dict())
    size = arch.resolved.resolution
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


# --- pairing by structure, and fine-tuning ------------------------------------------------


def conv_bn(prefix: str, out: int, inp: int, kernel: int = 1) -> dict:
    return {
        f"{prefix}.weight": torch.randn(out, inp, kernel, kernel),
        f"{prefix}.bn.weight": torch.randn(out),
        f"{prefix}.bn.bias": torch.randn(out),
    }


def test_a_shortcut_registered_first_pairs_with_the_modules_shortcut():
    # torchvision's RegNet registers `proj` before the residual branch `f`; specc's block
    # registers the shortcut last. Same shapes would pair silently wrong by order alone.
    source = {
        **conv_bn("stem", 8, 3, 3),
        **conv_bn("trunk.b1.proj", 16, 8),
        **conv_bn("trunk.b1.f.a", 16, 8),
        **conv_bn("trunk.b1.f.b", 16, 16),
    }
    target = {
        **conv_bn("stem.conv", 8, 3, 3),
        **conv_bn("stages.0.0.reduce", 16, 8),
        **conv_bn("stages.0.0.spatial", 16, 16),
        **conv_bn("stages.0.0.shortcut", 16, 8),
    }
    mapped = map_state_dict(source, target)
    for name in ("weight", "bn.weight", "bn.bias"):
        assert torch.equal(mapped[f"stages.0.0.shortcut.{name}"], source[f"trunk.b1.proj.{name}"])
        assert torch.equal(mapped[f"stages.0.0.reduce.{name}"], source[f"trunk.b1.f.a.{name}"])
        assert torch.equal(mapped[f"stages.0.0.spatial.{name}"], source[f"trunk.b1.f.b.{name}"])


def test_shapes_that_differ_by_unit_dimensions_are_reshaped():
    source = {"block.gamma": torch.randn(8, 1, 1), "block.fc.weight": torch.randn(32, 8)}
    target = {"stem.scale": torch.zeros(8), "stem.pw.weight": torch.zeros(32, 8, 1, 1)}
    mapped = map_state_dict(source, target)
    assert torch.equal(mapped["stem.scale"], source["block.gamma"].flatten())
    assert torch.equal(mapped["stem.pw.weight"].flatten(1), source["block.fc.weight"])


def test_a_classifier_of_another_size_stays_fresh_and_the_rest_is_imported():
    model = torch.nn.Module()
    model.stem = torch.nn.Conv2d(3, 8, 3)
    model.classifier = torch.nn.Linear(8, 10)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    source = {"features.0.weight": torch.randn(8, 3, 3, 3), "features.0.bias": torch.randn(8),
              "fc.weight": torch.randn(1000, 8), "fc.bias": torch.randn(1000)}  # fmt: skip
    report = import_weights(model, source)
    assert torch.equal(model.stem.weight, source["features.0.weight"])
    assert torch.equal(model.classifier.weight, fresh["classifier.weight"])
    assert report.fresh == ("classifier.weight", "classifier.bias")
    assert report.tensors == 2
    with pytest.raises(UserError, match=r"classifier\.weight"):
        import_weights(model, source, fine_tune=False)


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_the_stem_is_adapted_to_the_input_channels_as_timm_does(channels):
    timm = pytest.importorskip("timm")
    from timm.models import adapt_input_conv

    model = torch.nn.Sequential(torch.nn.Conv2d(channels, 8, 3), torch.nn.Conv2d(8, 4, 1))
    source = {"a.weight": torch.randn(8, 3, 3, 3), "a.bias": torch.randn(8),
              "b.weight": torch.randn(4, 8, 1, 1), "b.bias": torch.randn(4)}  # fmt: skip
    report = import_weights(model, source)
    assert report.adapted == ("0.weight",)
    expected = adapt_input_conv(channels, source["a.weight"].clone())
    torch.testing.assert_close(model[0].weight, expected)
    assert timm is not None


def test_mismatches_outside_the_classifier_and_stem_are_refused():
    source = {"a.weight": torch.randn(8, 3, 3, 3), "b.weight": torch.randn(16, 8, 3, 3),
              "fc.weight": torch.randn(10, 16)}  # fmt: skip
    target = {"stem.weight": torch.zeros(8, 3, 3, 3), "mid.weight": torch.zeros(16, 8, 5, 5),
              "classifier.weight": torch.zeros(5, 16)}  # fmt: skip
    with pytest.raises(UserError) as excinfo:
        map_state_dict(source, target)
    assert excinfo.value.details == [
        "tensor 1: checkpoint b.weight (16, 8, 3, 3) does not fit mid.weight (16, 8, 5, 5)"
    ]


@pytest.mark.parametrize(
    ("overrides", "adapted", "fresh"),
    [(["num_classes=10"], 0, 2), (["input.channels=1"], 1, 0)],
    ids=["10-classes", "1-channel"],
)
def test_torchvision_b0_fine_tunes_into_another_build_which_then_trains(
    tmp_path, overrides, adapted, fresh
):
    from click.testing import CliRunner

    from specc.cli import main

    torch.manual_seed(0)
    reference = torchvision.models.efficientnet_b0(weights=None)
    checkpoint = tmp_path / "b0.pth"
    torch.save(reference.state_dict(), checkpoint)
    folder = tmp_path / "b0"
    specc.write(specc.compile(SPECS / "b0.yaml", preset="b0", overrides=TV_EPS + overrides), folder)
    result = CliRunner().invoke(main, ["weights", "import", str(checkpoint), "--into", str(folder)])
    assert result.exit_code == 0, result.output
    assert ("adapted to the input channels: stem.conv.weight" in result.output) == bool(adapted)
    left_fresh = "left freshly initialised: classifier.weight, classifier.bias"
    assert (left_fresh in result.output) == bool(fresh)
    model = specc.instantiate(folder)
    model.load_state_dict(torch.load(folder / "weights.pt", weights_only=True), strict=True)
    head = reference.features[8][0].weight
    torch.testing.assert_close(model.head.conv.weight, head)
    channels = model.stem.conv.weight.shape[1]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    logits = model.train()(torch.randn(2, channels, 64, 64))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    optimizer.step()
    assert logits.shape[1] == (10 if fresh else 1000)
