"""Networks whose blocks are YAML graphs (`blocks:`), written as specs: exact parameter
counts, the reference's logits with its weights imported by structure (norms randomised,
eval mode), and phi = 1, 2 members whose modules have exactly the reported parameters
and feature shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
timm = pytest.importorskip("timm")

import specc  # noqa: E402
from specc.runtime.weights import import_weights  # noqa: E402
from tests.blocks.test_zoo import randomised  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "tests" / "data" / "zoo"

# reference name -> (library, factory kwargs, spec, compile kwargs)
CASES = {
    "cspresnet50": ("timm", {}, ZOO / "cspresnet50.yaml", {}),
    "densenet121": ("torchvision", {}, ZOO / "densenet121.yaml", {}),
    "squeezenet1_1": ("torchvision", {}, ZOO / "squeezenet1_1.yaml", {}),
    **{f"repvgg_{m}": ("timm", {}, ZOO / f"repvgg_{m}.yaml", {}) for m in ("a0", "a1", "a2")},
    **{
        f"shufflenet_v2_{m}": ("torchvision", {}, ZOO / f"shufflenet_v2_{m}.yaml", {})
        for m in ("x0_5", "x1_0", "x1_5", "x2_0")
    },
    **{
        f"ghostnet_{w}": ("timm", {}, ZOO / "ghostnet_100.yaml", {"preset": f"ghostnet_{w}"})
        for w in ("050", "100", "130")
    },
}


def reference_model(name: str):
    library, kwargs, _, _ = CASES[name]
    if library == "timm":
        return timm.create_model(name, pretrained=False, **kwargs)
    return getattr(torchvision.models, name)(weights=None, **kwargs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_parameter_count(name):
    _, _, spec, kwargs = CASES[name]
    arch = specc.compile(spec, **kwargs)
    assert arch.params == sum(p.numel() for p in reference_model(name).parameters())


@pytest.mark.parametrize("name", sorted(CASES))
def test_imported_weights_give_the_reference_logits(name):
    torch.manual_seed(0)
    _, _, spec, kwargs = CASES[name]
    arch = specc.compile(spec, **kwargs)
    reference = randomised(reference_model(name))
    model = specc.instantiate(arch).eval()
    import_weights(model, reference.state_dict())
    size = arch.resolved.resolution
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected, actual = reference(x), model(x)
    error = (actual - expected).abs().max() / expected.abs().max()
    assert error < 1e-5, f"max |diff| / max |ref| = {error:.3g}"


@pytest.mark.parametrize("spec", sorted({case[2] for case in CASES.values()}), ids=str)
@pytest.mark.parametrize("phi", [1, 2])
def test_scaled_members_have_the_reported_parameters_and_features(spec, phi):
    arch = specc.compile(spec, phi=phi)
    model = specc.instantiate(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == arch.params
    size = arch.resolved.resolution
    with torch.no_grad():
        features = model.features(torch.randn(1, 3, size, size))
    expected = [tuple(e.shape) for e in arch.endpoints()]
    assert [tuple(f.shape[1:]) for f in features] == expected


YOLO = ROOT / "specs" / "yolo_c2f.yaml"


def _chains(arch) -> list[int]:
    """The C2f chain length of each stage, read from the built module's structure."""
    model = specc.instantiate(arch)
    return [len(stage[0].m) for stage in model.stages]


@pytest.mark.parametrize("selector", [{"phi": 1}, {"phi": 2}, {"preset": "n"}, {"preset": "x"}])
def test_yolo_c2f_members_have_the_reported_parameters_and_features(selector):
    arch = specc.compile(YOLO, **selector)
    model = specc.instantiate(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == arch.params
    size = arch.resolved.resolution
    with torch.no_grad():
        features = model.features(torch.randn(1, 3, size, size))
    assert [tuple(f.shape[1:]) for f in features] == [tuple(e.shape) for e in arch.endpoints()]


def test_yolo_c2f_depth_grows_the_chains_not_the_stages():
    base = [3, 6, 6, 3]
    for selector, depth in (({"phi": 2}, 1.2**2), ({"preset": "n"}, 0.33), ({"preset": "m"}, 0.67)):
        arch = specc.compile(YOLO, **selector)
        assert [stage.repeats for stage in arch.resolved.stages] == [1, 1, 1, 1]
        # Ultralytics' parse_model: max(round(n * depth), 1), Python's round
        assert _chains(arch) == [max(round(n * depth), 1) for n in base]


def test_yolo_c2f_scales_match_ultralytics_yolov8_cls():
    # YOLOv8n-cls as Ultralytics' model summary reports it: 2,719,288 parameters.
    assert specc.compile(YOLO, preset="n").params == 2_719_288
