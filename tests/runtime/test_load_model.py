"""specc.load_model: a generated folder (hyphens in its name) and its weights, no importlib."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import specc  # noqa: E402

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.yaml"


def test_load_model_imports_a_hyphenated_folder_with_its_weights(tmp_path):
    folder = tmp_path / "tiny-net-phi0"
    specc.write(specc.compile(TINY), folder)
    trained = specc.instantiate(folder)
    torch.save({"model": trained.state_dict(), "epoch": 3}, tmp_path / "best.pt")
    model = specc.load_model(str(folder), weights=tmp_path / "best.pt")
    assert type(model).__name__ == "TinyNet"
    for name, tensor in trained.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor)
    assert specc.load_model(folder, num_classes=7)(torch.randn(1, 3, 32, 32)).shape == (1, 7)


def test_load_model_errors_name_the_problem(tmp_path):
    with pytest.raises(specc.UserError, match=r"no model\.py"):
        specc.load_model(tmp_path)
    folder = tmp_path / "tiny"
    specc.write(specc.compile(TINY), folder)
    other = specc.instantiate(specc.compile(TINY, overrides=["head.channels=48"]))
    torch.save(other.state_dict(), tmp_path / "other.pt")
    with pytest.raises(specc.UserError, match="does not fit"):
        specc.load_model(folder, weights=tmp_path / "other.pt")
