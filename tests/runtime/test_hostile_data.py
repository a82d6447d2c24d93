"""Data folders that hold what is not an image (issue 18, kind 4): special files, link
loops, decompression bombs, empty class folders, nothing readable at all, and a stop
signal while the input is stuck. What cannot be an image is skipped and counted; where
nothing usable remains the run stops with a message; a signal always stops promptly."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402
from test_trainer import TINY, image_folder, train  # noqa: E402

import specc  # noqa: E402
from specc.runtime.train import data as data_module  # noqa: E402
from specc.runtime.train import trainer  # noqa: E402
from specc.runtime.train.images import scan  # noqa: E402


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "tiny"
    specc.write(specc.compile(TINY), folder)
    return folder


def hostile(root: Path) -> Path:
    """4 real images per class, plus every odd entry beside them."""
    image_folder(root, per_class=4, val=2)
    train_dir = root / "train"
    os.mkfifo(train_dir / "class0" / "fifo.png")
    (train_dir / "class1" / "loop").symlink_to("..")  # a loop through train/
    (train_dir / "class0" / "other").symlink_to("../class2")  # another class: no relabel
    (train_dir / "class2" / "gone.png").symlink_to("nowhere.png")
    (train_dir / "class2" / "self.png").symlink_to("self.png")  # a link loop
    # 400 M pixels of one bit in 48 KB: past PIL's bomb limit, decoded never.
    Image.new("1", (20000, 20000)).save(train_dir / "class2" / "bomb.png", optimize=True)
    return root


def test_only_regular_files_are_images_and_each_folder_is_walked_once(tmp_path):
    root = hostile(tmp_path / "data")
    found = scan(root / "train")
    assert found.classes == ["class0", "class1", "class2"]
    assert len(found.samples) == 13  # 12 images and the bomb (unreadable: skipped when read)
    labels = {Path(p).name: label for p, label in found.samples if "class2" in p}
    assert set(labels.values()) == {2}  # nothing of class2 came in through class0's link
    assert found.skipped == {
        "special files (FIFOs, sockets, devices)": 1,
        "dangling links or link loops": 2,
        "links to a folder already walked": 2,
    }


def test_training_skips_and_counts_what_is_not_an_image(tmp_path, model_dir):
    root = hostile(tmp_path / "data")
    out = tmp_path / "run"
    args = ["--data", str(root), "--out", str(out), "--epochs", "1"]
    started = time.monotonic()
    result = train(str(model_dir / "train.yaml"), *args)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 120  # the FIFO was never opened
    assert "13 training images" in result.output
    assert "1 special files" in result.output and "2 dangling links" in result.output
    assert "1 unreadable images skipped" in result.output  # the bomb
    assert "Traceback" not in result.output


def test_an_empty_class_folder_is_a_message(tmp_path, model_dir):
    root = image_folder(tmp_path / "data", per_class=4, val=2)
    for image in (root / "train" / "class1").iterdir():
        image.unlink()
    (root / "train" / "class1" / "notes.txt").write_text("not an image")
    result = train(str(model_dir / "train.yaml"), "--data", str(root), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "class folders without an image (class1)" in result.output


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n truncated", b"GIF89a" * 10])
def test_a_set_with_no_readable_image_stops_before_training(tmp_path, model_dir, content):
    root = tmp_path / "data"
    for split in ("train", "val"):
        for name in ("class0", "class1", "class2"):
            (root / split / name).mkdir(parents=True)
            for i in range(4):
                (root / split / name / f"{i}.png").write_bytes(content)
    out = tmp_path / "run"
    result = train(str(model_dir / "train.yaml"), "--data", str(root), "--out", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "could be read as an image" in result.output
    assert not (out / "best.pt").exists() and not (out / "last.pt").exists()


def test_an_epoch_in_which_nothing_was_readable_writes_no_result(tmp_path, model_dir, monkeypatch):
    """Images that decode before the first step and not after (a disk gone away)."""
    root = image_folder(tmp_path / "data", per_class=4, val=2)
    original = trainer.Run.check_before_training

    def then_unreadable(self):
        original(self)
        monkeypatch.setattr(data_module, "open_image", _unreadable)

    monkeypatch.setattr(trainer.Run, "check_before_training", then_unreadable)
    out = tmp_path / "run"
    result = train(str(model_dir / "train.yaml"), "--data", str(root), "--out", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "none of its 8 training images could be read" in result.output
    assert not (out / "best.pt").exists()


def _unreadable(path: str, mode: str):
    raise OSError(f"{path}: input/output error")


@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_the_input_is_stuck_stops_at_once(
    tmp_path, model_dir, monkeypatch, number, code
):
    root = image_folder(tmp_path / "data", per_class=8, val=2)
    original_step, original_open = trainer.Run.step, data_module.open_image
    stuck = threading.Event()

    def step(self, inputs, labels):
        if not stuck.is_set():
            stuck.set()
            threading.Timer(0.5, os.kill, (os.getpid(), number)).start()
        return original_step(self, inputs, labels)

    def slow_open(path: str, mode: str):
        if stuck.is_set():
            time.sleep(120)  # a file system that does not answer
        return original_open(path, mode)

    monkeypatch.setattr(trainer.Run, "step", step)
    monkeypatch.setattr(data_module, "open_image", slow_open)
    out = tmp_path / "run"
    started = time.monotonic()
    result = train(str(model_dir / "train.yaml"), "--data", str(root), "--out", str(out))
    assert time.monotonic() - started < 60
    assert result.exit_code == code, result.output
    assert "checkpoint written to" in result.output and (out / "last.pt").exists()
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 1
