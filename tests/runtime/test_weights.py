"""Weight import: torchvision's models and specc's generated ones compute the same logits."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

import specc  # noqa: E402
from specc.runtime.weights import (  # noqa: E402
    WeightImportError,
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
    from specc.output import MANIFEST

    hidden = [p for p in folder.iterdir() if p.name.startswith(".") and p.name != MANIFEST]
    written = [p.name for p in folder.iterdir() if p.suffix == ".pt"] + [p.name for p in hidden]
    assert written == []


def test_mismatch_report_names_both_sides():
    source = {"a.weight": torch.zeros(8, 3, 3, 3), "a.bias": torch.zeros(8)}
    target = {"x.weight": torch.zeros(16, 3, 3, 3), "x.bias": torch.zeros(16)}
    with pytest.raises(WeightImportError) as excinfo:
        map_state_dict(source, target)
    assert excinfo.value.problems[0] == (
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
    with pytest.raises(WeightImportError, match="not a loadable checkpoint"):
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
