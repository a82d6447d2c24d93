"""Golden source: the model.py and the IR text of one network per built-in block kind and per
template switch, compared byte for byte.

    network             what it pins down
    b0                  mbconv with SE and residuals (model.py: generated/efficientnet-b0)
    mobilenet_v2        mbconv without SE: no SqueezeExcite class, no squeeze arguments
    efficientnet_v2_s   fused_mbconv (with and without projection) beside mbconv
    mobilenet_v1        dsconv without SE or residual: no SE, no DropPath
    resnet50            bottleneck, stem max pool, projection shortcuts
    regnet_y_400mf      grouped bottleneck with SE
    resnet18            basic
    convnext_tiny       convnext, layer norm, patchify stem, pooled-feature norm
    every_kind          every kind in one network: conv with skip, mixed kernels, SE variants
    efficientnet_lite   TF 'same' padding (Conv2dSame)
    mixnet_s            mixed kernels (MixedConv2d), split 1x1s
    cspresnet50         YAML block graphs: split, chained kind, concat, when (Identity)
    yolo_c2f            YAML block graphs: collecting chain, when on an op (a flag)
    shufflenet_v2_x1_0  YAML block graphs: channel shuffle, two branches, inner stride

After a reviewed change to the compiler or an emitter, rewrite them with
`pytest tests/golden --update-golden` and review the diff like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NETWORKS = {
    "b0": ROOT / "specs" / "b0.yaml",
    "mobilenet_v2": ROOT / "specs" / "mobilenet_v2.yaml",
    "efficientnet_v2_s": ROOT / "specs" / "efficientnet_v2_s.yaml",
    "mobilenet_v1": ROOT / "specs" / "mobilenet_v1.yaml",
    "resnet50": ROOT / "specs" / "resnet50.yaml",
    "regnet_y_400mf": ROOT / "specs" / "regnet_y_400mf.yaml",
    "resnet18": ROOT / "specs" / "resnet18.yaml",
    "convnext_tiny": ROOT / "specs" / "convnext_tiny.yaml",
    "every_kind": ROOT / "tests" / "data" / "every_kind.yaml",
    "efficientnet_lite": ROOT / "specs" / "efficientnet_lite.yaml",
    "mixnet_s": ROOT / "specs" / "mixnet_s.yaml",
    "cspresnet50": ROOT / "tests" / "data" / "zoo" / "cspresnet50.yaml",
    "yolo_c2f": ROOT / "specs" / "yolo_c2f.yaml",
    "shufflenet_v2_x1_0": ROOT / "tests" / "data" / "zoo" / "shufflenet_v2_x1_0.yaml",
}


def _check(path: Path, text: str, update: bool) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run pytest tests/golden --update-golden"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.relative_to(ROOT)} changed: review, then pytest tests/golden --update-golden"
    )


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def network(request: pytest.FixtureRequest):
    return request.param, specc.compile(NETWORKS[request.param])


def test_model_source(network, update_golden):
    name, arch = network
    if name == "b0":  # its golden model.py is the committed generated/efficientnet-b0
        golden = ROOT / "generated" / "efficientnet-b0" / "model.py"
        assert specc.emit_pytorch(specc.compile(NETWORKS[name], preset="b0")) == golden.read_text()
        return
    _check(HERE / name / "model.py", specc.emit_pytorch(arch), update_golden)


def test_ir_text(network, update_golden):
    name, arch = network
    _check(HERE / name / "ir.txt", arch.ir_text(), update_golden)


def test_show_ir_prints_the_text(tmp_path):
    from click.testing import CliRunner

    from specc.cli import main

    result = CliRunner().invoke(main, ["show", str(NETWORKS["resnet18"]), "--ir"])
    assert result.exit_code == 0, result.output
    assert result.output == (HERE / "resnet18" / "ir.txt").read_text()
    first = result.output.splitlines()[4]
    assert first.startswith("stem.conv = conv(input) in_channels=3 out_channels=64 kernel=7")
    refused = CliRunner().invoke(main, ["show", str(NETWORKS["resnet18"]), "--ir", "--json"])
    assert refused.exit_code == 2 and "--ir" in refused.output


def test_parts_are_emitted_only_where_used(network):
    """A part's class and its arguments appear only in networks whose blocks use it."""
    name, arch = network
    source = specc.emit_pytorch(arch)
    has_se = any(node.endswith(".se.scale") for node in arch.graph.nodes)
    has_drop_path = any(node.endswith(".drop_path") for node in arch.graph.nodes)
    assert ("class SqueezeExcite(" in source) == has_se, name
    assert ("squeeze=" in source) == has_se, name
    assert ("class DropPath(" in source) == has_drop_path, name
    assert ("class LayerNorm2d(" in source) == (arch.resolved.defaults.norm.kind == "layernorm")
