"""The trainer on the CPU: it learns, logs, checkpoints, resumes exactly, runs under
torchrun, and turns bad input into clear errors."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from click.testing import CliRunner  # noqa: E402

import specc  # noqa: E402
from specc.cli import main  # noqa: E402

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.yaml"
COLORS = [(220, 40, 40), (40, 200, 40), (40, 40, 220)]


def image_folder(root: Path, per_class: int = 16, val: int = 4, classes: int = 3) -> Path:
    """Three colour classes with pixel noise: learnable, and robust to crops and flips."""
    from PIL import Image

    rng = random.Random(0)
    for split, count in (("train", per_class), ("val", val)):
        for index, color in enumerate(COLORS[:classes]):
            folder = root / split / f"class{index}"
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = [tuple(min(255, max(0, v + rng.randint(-60, 60))) for v in color)
                          for _ in range(40 * 40)]  # fmt: skip
                image = Image.new("RGB", (40, 40))
                image.putdata(pixels)
                image.save(folder / f"{i}.png")
    return root


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "tiny"
    specc.write(specc.compile(TINY), folder)
    return folder


def train(*args: str):
    torch.set_num_threads(1)  # the CPU here is small and shared; one thread is fastest
    return CliRunner().invoke(main, ["train", *args])


def test_learns_logs_and_checkpoints(tmp_path, model_dir):
    data = image_folder(tmp_path / "data")
    (data / "train" / "class0" / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "run"
    result = train(str(model_dir / "train.yaml"), "--data", str(data), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 6  # the spec's epochs
    assert max(r["train_top1"] for r in rows) > 0.9
    assert rows[-1]["eval_top1"] is not None and rows[-1]["ema_top1"] is not None
    assert all(r["skipped_images"] == 1 for r in rows)  # the unreadable file, every epoch
    assert (out / "metrics.csv").read_text().startswith("epoch,step,lr,")
    assert {p.name for p in out.iterdir()} >= {"last.pt", "best.pt", "ranks.json"}
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["epoch"] == 6 and state["step"] == 6 * 6  # 47 images // batch 8 = 5? see below
    model = specc.instantiate(model_dir)
    model.load_state_dict(state["model"], strict=True)


def test_resume_ends_with_the_same_weights(tmp_path, model_dir):
    data = image_folder(tmp_path / "data", per_class=8, val=2)  # 24 images: 3 steps per epoch
    config = str(model_dir / "train.yaml")
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert train(config, "--data", str(data), "--epochs", "2", "--out", str(whole)).exit_code == 0
    first = train(
        config, "--data", str(data), "--epochs", "2", "--out", str(parts), "--max-steps", "4"
    )
    assert first.exit_code == 0 and "stopped at epoch 1 step 4; continue with: " in first.output
    assert f"--out {parts} --resume --data {data} --epochs 2" in first.output
    # The checkpoint keeps the run's --epochs: a bare --resume continues the same 2 epochs.
    second = train(config, "--out", str(parts), "--resume")
    assert second.exit_code == 0, second.output
    a = torch.load(whole / "last.pt", weights_only=True)
    b = torch.load(parts / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 6
    assert [n for n, _ in flat(a)] == [n for n, _ in flat(b)]
    for (name, x), (_, y) in zip(flat(a), flat(b), strict=True):
        if isinstance(x, torch.Tensor) and not name.startswith("rng"):
            assert torch.equal(x, y), f"{name} differs after resume"


def flat(state, prefix=""):
    """(dotted name, leaf) pairs of a nested checkpoint, in order."""
    if isinstance(state, dict):
        for key, value in state.items():
            yield from flat(value, f"{prefix}{key}.")
    elif isinstance(state, list | tuple):
        for index, value in enumerate(state):
            yield from flat(value, f"{prefix}{index}.")
    else:
        yield prefix.rstrip("."), state


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path, model_dir):
    data = image_folder(tmp_path / "data", per_class=8, val=2)
    out = tmp_path / "run"
    assert train(str(model_dir / "train.yaml"), "--data", str(data), "--epochs", "1",
                 "--out", str(out)).exit_code == 0  # fmt: skip
    other = tmp_path / "other"
    specc.write(specc.compile(TINY, overrides=["training.smoothing=0.2"]), other)
    result = train(str(other / "train.yaml"), "--data", str(data), "--out", str(out), "--resume")
    assert result.exit_code == 1
    assert "was written for another training recipe" in result.output

    wider = tmp_path / "wider"
    specc.write(specc.compile(TINY, overrides=["head.channels=48"]), wider)
    result = train(str(wider / "train.yaml"), "--data", str(data), "--out", str(out), "--resume")
    assert result.exit_code == 1
    assert "was written for another architecture" in result.output


def test_synthetic_data_and_max_steps(tmp_path, model_dir):
    out = tmp_path / "run"
    result = train(str(model_dir / "train.yaml"), "--data", "synthetic", "--synthetic-images",
                   "32", "--max-steps", "3", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 3


@pytest.mark.parametrize(
    ("layout", "message"),
    [("missing", "no such folder"), ("no-train", "no train/ folder"),
     ("empty", "the class folders hold no images"), ("mismatch", "class folders differ"),
     ("classes", "has 2 classes but the model has 3 outputs")],
)  # fmt: skip
def test_bad_data_is_a_clear_error(tmp_path, model_dir, layout, message):
    root = tmp_path / "data"
    if layout == "no-train":
        root.mkdir()
    elif layout == "empty":
        (root / "train" / "a").mkdir(parents=True)
    elif layout == "mismatch":
        image_folder(root)
        (root / "val" / "class2").rename(root / "val" / "extra")
    elif layout == "classes":
        image_folder(root, classes=2)
    result = train(str(model_dir / "train.yaml"), "--data", str(root), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_torchrun_two_ranks_hold_identical_weights(tmp_path, model_dir):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
               "2", "-m", "specc.train", str(model_dir / "train.yaml"), "--data", "synthetic",
               "--synthetic-images", "64", "--max-steps", "2", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if result.returncode != 0 and "terminate called without an active exception" in result.stderr:
        # A known gloo teardown race in torch (worker threads outliving the interpreter,
        # pytorch/pytorch#179291); the trainer's shutdown() narrows it. Seen once in many
        # runs before that fix: retry once so CI is not hostage to it, and say so.
        warnings.warn("gloo teardown abort under torchrun; retried once", stacklevel=1)
        shutil.rmtree(out, ignore_errors=True)
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    digests = json.loads((out / "ranks.json").read_text())["weights_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]


def test_out_of_memory_names_the_batch_size_to_try(tmp_path, model_dir, monkeypatch):
    from specc.runtime.train import trainer

    def out_of_memory(self, inputs, labels):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer.Run, "step", out_of_memory)
    result = train(
        str(model_dir / "train.yaml"), "--data", "synthetic", "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 1
    assert "out of memory at batch size 8 per process" in result.output
    assert "try --batch-size 4" in result.output


def test_compiled_training_matches_eager(tmp_path, model_dir):
    # aot_eager traces forward and backward like inductor but runs the captured graphs
    # eagerly, so the compile path is exercised without a C++ build on this small CPU.
    config = str(model_dir / "train.yaml")
    runs = {}
    for name, extra in (("eager", []), ("compiled", ["--compile", "aot_eager"])):
        out = tmp_path / name
        args = ["--data", "synthetic", "--synthetic-images", "16", "--max-steps", "3"]
        result = train(config, *args, "--out", str(out), *extra)
        assert result.exit_code == 0, result.output
        runs[name] = torch.load(out / "last.pt", weights_only=True)["model"]
    assert list(runs["eager"]) == list(runs["compiled"])  # no `_orig_mod.` prefixes
    for name, tensor in runs["eager"].items():
        torch.testing.assert_close(runs["compiled"][name], tensor, rtol=1e-4, atol=1e-5)


def test_out_of_memory_gives_the_prediction_and_the_batch_that_fits(tmp_path, monkeypatch):
    """With architecture.json's prediction and the GPU's size, the message names the
    predicted peak at the batch and the largest batch predicted to fit."""
    from types import SimpleNamespace

    import specc
    from specc.runtime.train import trainer

    arch = specc.compile(Path(__file__).resolve().parents[2] / "specs" / "b0.yaml")
    specc.write(arch, tmp_path / "b0")
    step = arch.step_memory(grad_checkpointing=False)
    total = step.fixed + 100 * step.per_image + 1
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda _d: SimpleNamespace(total_memory=total)
    )
    cfg = SimpleNamespace(batch_size=128, img_size=224, grad_checkpointing=False)
    message = trainer.out_of_memory_message(cfg, tmp_path / "b0")
    assert "try --batch-size 100" in message and "grad_checkpointing: true" in message
    assert "predicts a peak of" in message
