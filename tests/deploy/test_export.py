"""specc export: the artefact runs (onnxruntime / loaded program) and matches eager."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from specc.cli import main

torch = pytest.importorskip("torch")

from specc.runtime.deploy import export as export_module  # noqa: E402
from specc.runtime.deploy.inference import randomize_batch_norm  # noqa: E402
from specc.runtime.model import load_model  # noqa: E402


@pytest.fixture(scope="module")
def trained_weights(tmp_path_factory):
    """Weights with non-trivial batch norms, so that a wrong fold or export shows."""

    def make(folder):
        path = tmp_path_factory.mktemp("weights") / "weights.pt"
        model = randomize_batch_norm(load_model(folder).eval(), seed=3)
        torch.save(model.state_dict(), path)
        return path

    return make


def _export(*args):
    return CliRunner().invoke(main, ["export", *map(str, args)])


@pytest.mark.parametrize("fmt", ["onnx", "exported-program"])
@pytest.mark.parametrize("fuse", [False, True], ids=["eager", "fused"])
def test_every_kind_and_padding_exports_within_tolerance(every_kind_folder, trained_weights,
                                                         tmp_path, fmt, fuse):  # fmt: skip
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    out = tmp_path / ("net.onnx" if fmt == "onnx" else "net.pt2")
    weights = trained_weights(every_kind_folder)
    args = [every_kind_folder, "--format", fmt, "--weights", weights, "-o", out, "--json"]
    result = _export(*args, *(["--fuse"] if fuse else []))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["max_rel_error"] <= data["tolerance"] == export_module.TOLERANCE
    assert out.is_file() and data["path"] == str(out)
    assert data["macs"] == data["ir_macs"]
    assert (data["params"] < data["ir_params"]) == fuse
    assert list(out.parent.iterdir()) == [out]  # no temporary left behind


def test_default_artefact_lies_beside_the_folder(every_kind_folder):
    result = _export(every_kind_folder, "--format", "exported-program", "--fuse")
    assert result.exit_code == 0, result.output
    expected = every_kind_folder.with_name(every_kind_folder.name + "-fused.pt2")
    assert f"wrote {expected}" in result.output
    expected.unlink()  # the folder stays exactly what `specc build` wrote
    assert sorted(p.name for p in every_kind_folder.iterdir()) == [
        ".specc-manifest", "architecture.json", "model.py", "report.md", "train.yaml"
    ]  # fmt: skip


def test_dynamic_batch_onnx_runs_at_any_batch(every_kind_folder, trained_weights, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "dyn.onnx"
    weights = trained_weights(every_kind_folder)
    result = _export(every_kind_folder, "--batch", "dynamic", "--weights", weights, "-o", out)
    assert result.exit_code == 0, result.output
    assert "dynamic batch, checked at 1, 3" in result.output
    model = load_model(every_kind_folder, weights).eval()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.randn(5, 3, 40, 40)
    (logits,) = session.run(None, {"images": x.numpy()})
    expected = model(x).detach()
    assert logits.shape == (5, 5)
    assert (torch.from_numpy(logits) - expected).abs().max() <= 1e-4 * expected.abs().max()


def test_exported_program_dynamic_batch(every_kind_folder, tmp_path):
    out = tmp_path / "dyn.pt2"
    result = _export(every_kind_folder, "--format", "exported-program", "--batch", "dynamic",
                     "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    program = torch.export.load(out).module()
    assert program(torch.randn(7, 3, 40, 40)).shape == (7, 5)


def test_mismatch_fails_and_writes_nothing(every_kind_folder, tmp_path, monkeypatch):
    real = export_module._export_program

    def off_by_a_little(*args):
        run = real(*args)
        return lambda x: run(x) * 1.001  # 1e-3 relative: past the 1e-4 tolerance

    monkeypatch.setattr(export_module, "_export_program", off_by_a_little)
    out = tmp_path / "model.pt2"
    out.write_text("an earlier export")
    result = _export(every_kind_folder, "--format", "exported-program", "-o", out)
    assert result.exit_code == 1
    assert "disagrees with eager PyTorch: max relative error 0.001" in result.output
    assert f"{out} was not written" in result.output
    assert out.read_text() == "an earlier export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt2"]


def test_onnx_without_the_extra_is_refused(every_kind_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    result = _export(every_kind_folder)
    assert result.exit_code == 1
    assert "ONNX export needs onnxruntime: pip install 'specc[export]'" in result.output
    assert "Traceback" not in result.output
    assert not every_kind_folder.with_name(every_kind_folder.name + ".onnx").exists()


def test_bad_input(tmp_path, every_kind_folder):
    result = _export(tmp_path)
    assert result.exit_code == 1
    assert f"{tmp_path}: not a generated folder (no model.py)" in result.output
    bad = tmp_path / "bad.pt"
    torch.save({"head.conv.weight": torch.zeros(1)}, bad)
    result = _export(every_kind_folder, "--format", "exported-program", "--weights", bad)
    source = every_kind_folder / "model.py"
    assert result.exit_code == 1 and f"{bad} does not fit {source}" in result.output
    assert "of another shape" in result.output and "Traceback" not in result.output
    result = _export(every_kind_folder, "--format", "exported-program", "-o", tmp_path / "no/x")
    assert result.exit_code == 1 and "no such folder" in result.output
    result = _export(every_kind_folder, "--format", "exported-program", "--opset", "18")
    assert result.exit_code == 1 and "--opset applies to ONNX only" in result.output
    for batch in ("0", "lots"):
        result = _export(every_kind_folder, "--batch", batch)
        assert result.exit_code == 2 and "--batch" in result.output
    assert not any(p.suffix in (".onnx", ".pt2") for p in every_kind_folder.iterdir())


def test_python_api_and_training_checkpoint_weights(every_kind_folder, tmp_path):
    import specc

    model = randomize_batch_norm(load_model(every_kind_folder).eval(), seed=5)
    checkpoint = tmp_path / "last.pt"
    torch.save({"format": 1, "model": model.state_dict(), "epoch": 3}, checkpoint)
    result = specc.export(every_kind_folder, "exported-program", weights=checkpoint, batch=2,
                          out=tmp_path / "net.pt2")  # fmt: skip
    assert result.ok and result.batches == (2,) and not result.dynamic
    program = torch.export.load(result.path).module()
    x = torch.randn(2, 3, 40, 40)
    assert torch.allclose(program(x), model.eval()(x), rtol=1e-4, atol=1e-5)
