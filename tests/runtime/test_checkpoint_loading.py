"""Weights from a training run load everywhere the same way (issue 22): a checkpoint of
another architecture is explained (both hashes and what it was built as) by load_model and
`specc export --weights`, never PyTorch's raw load_state_dict text; the EMA weights load
with ema=True / --ema; best.pt is picked by the EMA weights when the run keeps them, and the
run says so."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from click.testing import CliRunner  # noqa: E402
from test_trainer import TINY, image_folder  # noqa: E402

import specc  # noqa: E402
from specc.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """tiny at phi 0 and phi 1; one epoch of phi 1 on a small ImageFolder."""
    root = tmp_path_factory.mktemp("runs")
    folders = {}
    for phi in (0, 1):
        folders[phi] = root / f"tiny-phi{phi}"
        specc.write(specc.compile(specc.load(TINY), phi=phi), folders[phi])
    data = image_folder(root / "data", per_class=8, val=2)
    out = root / "run"
    args = ["train", str(folders[1]), "--data", str(data), "--epochs", "1", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return folders, out, result.output


def test_the_run_says_which_weights_pick_best_pt(run):
    _, out, output = run
    assert "best.pt: by the EMA weights' val top-1 (best_by: ema; load: ema=True)" in output
    assert torch.load(out / "best.pt", weights_only=True)["best_by"] == "ema"


def test_ema_weights_load_where_weights_load(run, tmp_path):
    folders, out, _ = run
    state = torch.load(out / "best.pt", weights_only=True)
    model = specc.load_model(folders[1], weights=out / "best.pt", ema=True)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, state["ema"]["module"][name]), name
    target = tmp_path / "m.pt2"
    args = ["export", str(folders[1]), "--format", "exported-program", "--weights",
            str(out / "best.pt"), "--ema", "-o", str(target)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert target.is_file()
    # Checkpoints and exported files have the mode of the run's other outputs (umask 022).
    mode = (out / "metrics.csv").stat().st_mode & 0o777
    assert mode == 0o644
    for path in (out / "best.pt", out / "last.pt", target):
        assert path.stat().st_mode & 0o777 == mode, path


def test_weights_of_another_phi_are_explained_everywhere(run, tmp_path):
    folders, out, _ = run
    with pytest.raises(specc.UserError) as caught:
        specc.load_model(folders[0], weights=out / "last.pt")
    message = str(caught.value.message)
    assert "it was written for another architecture" in message
    assert "built as tiny phi1 (spec sha256" in message
    args = ["export", str(folders[0]), "--format", "exported-program", "--weights",
            str(out / "last.pt"), "-o", str(tmp_path / "m.pt2")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "built as tiny phi1" in result.output
    assert "Error(s) in loading state_dict" not in result.output and len(result.output) < 1500
    assert not (tmp_path / "m.pt2").exists()
