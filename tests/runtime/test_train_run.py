"""A run as a user lives it: where it writes and what it never overwrites, train.yaml
overrides, pre-flight messages, fine-tuning starts, signals and exact resumes, and one
true metrics row per epoch whatever was killed when."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from click.testing import CliRunner  # noqa: E402
from test_trainer import TINY, flat, image_folder  # noqa: E402

import specc  # noqa: E402
from specc.cli import main  # noqa: E402
from specc.runtime.train import trainer  # noqa: E402


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "tiny"
    specc.write(specc.compile(TINY), folder)
    return folder


def train(*args: str):
    torch.set_num_threads(1)
    return CliRunner().invoke(main, ["train", *args])


SYNTHETIC = ("--data", "synthetic", "--synthetic-images", "16", "--max-steps", "2")


def test_the_default_run_folder_is_outside_the_build_and_never_overwritten(
    tmp_path, model_dir, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    config = str(model_dir / "train.yaml")
    first = train(config, *SYNTHETIC)
    assert first.exit_code == 0, first.output
    run = tmp_path / "runs" / "tiny"
    assert (run / "last.pt").is_file() and not (model_dir / "runs").exists()
    assert f"run folder {Path('runs') / 'tiny'}" in first.output
    (run / "notes.txt").write_text("mine")
    before = (run / "last.pt").read_bytes()
    again = train(config, *SYNTHETIC)
    assert again.exit_code == 1
    assert "already holds a run" in again.output and "--resume" in again.output
    assert (run / "last.pt").read_bytes() == before
    replaced = train(config, *SYNTHETIC, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert (run / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("hfilp=0", "unknown key 'hfilp' (did you mean 'hflip'?)"),
        ("hflip=2", "hflip: Input should be less than or equal to 1"),
        ("mean=[0.5]", "1 values for 3 input channels"),
        ("aa=rand_m9", "unknown augmentation 'rand_m9'"),
        ("scale", "expected KEY=VALUE"),
    ],
)
def test_set_is_validated_and_keys_the_model_cannot_take_are_refused(
    tmp_path, model_dir, setting, message
):
    result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(tmp_path / "o"),
                   "--set", setting)  # fmt: skip
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o" / "last.pt").exists()


def test_rates_and_channels_of_train_yaml_reach_the_generated_model(tmp_path, model_dir):
    """The generated constructor takes timm's arguments, so these edits are honoured."""
    out = tmp_path / "o"
    settings = ["--set", "drop=0.3", "--set", "drop_path=0.05", "--set", "in_chans=1"]
    result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(out), *settings)
    assert result.exit_code == 0, result.output
    weights = torch.load(out / "last.pt", weights_only=True)["model"]
    assert weights["stem.conv.weight"].shape[1] == 1


def test_a_constructor_without_the_arguments_refuses_other_values():
    """A model.py from before the timm-style constructor: a value it cannot take is refused,
    naming the rebuild that would give it."""
    from specc.diagnostics import UserError
    from specc.runtime.train.config import TrainConfig
    from specc.runtime.train.preflight import constructor_kwargs

    class Old:
        def __init__(self, num_classes=1000):
            pass

    cfg = TrainConfig.model_validate({
        "model_class": "Old", "num_classes": 5, "img_size": 32, "in_chans": 1, "drop": 0.3,
        "drop_path": 0.1, "spec": {"name": "n", "sha256": "0", "selector": "phi0"},
        "built": {"num_classes": 5, "in_chans": 3, "img_size": 32, "drop": 0.1, "drop_path": 0.1},
    })  # fmt: skip
    with pytest.raises(UserError) as excinfo:
        constructor_kwargs(Old, cfg, "model.py")
    message = str(excinfo.value)
    assert "train.yaml sets drop: 0.3, but model.py was built with 0.1" in message
    assert "rebuild with --set input.channels=1" in message
    assert "drop_path" not in message  # unchanged from the build: nothing to refuse


def test_a_constructor_that_takes_the_rates_gets_them():
    from specc.runtime.train.config import Built, TrainConfig
    from specc.runtime.train.preflight import constructor_kwargs

    class Net:
        def __init__(self, num_classes=1000, in_chans=3, drop_rate=0.0, drop_path_rate=0.0):
            pass

    cfg = TrainConfig.model_validate({
        "model_class": "Net", "num_classes": 5, "img_size": 32, "in_chans": 1, "drop": 0.3,
        "drop_path": 0.2, "spec": {"name": "n", "sha256": "0", "selector": "phi0"},
        "built": {"num_classes": 5, "in_chans": 3, "img_size": 32, "drop": 0.1, "drop_path": 0.1},
    })  # fmt: skip
    assert constructor_kwargs(Net, cfg, "model.py") == {
        "num_classes": 5, "in_chans": 1, "drop_rate": 0.3, "drop_path_rate": 0.2,
    }  # fmt: skip
    assert isinstance(cfg.built, Built)


def test_batch_one_with_one_by_one_batch_norm_maps_is_a_message(tmp_path, model_dir):
    # img_size is honoured: at 4 px the last stage's maps are 1x1.
    result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(tmp_path / "o"),
                   "--set", "img_size=4", "--batch-size", "1")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "batch size 1 cannot train this model" in result.output
    assert "use a batch size >= 2" in result.output and "Traceback" not in result.output
    ok = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(tmp_path / "p"),
               "--set", "img_size=4", "--batch-size", "2")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "training at 4 px (model.py was built for 32)" in ok.output


def test_an_exception_inside_a_step_names_the_step_and_the_layer(tmp_path, model_dir, monkeypatch):
    original = trainer.Run.step

    def broken(self, inputs, labels):
        if self.state.step == 1:
            head = self.model.head

            def fail(*_):
                raise RuntimeError("something inside broke")

            head.forward = fail.__get__(head)
        return original(self, inputs, labels)

    monkeypatch.setattr(trainer.Run, "step", broken)
    result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "error: step 2 (epoch 0) failed" in result.output
    assert "RuntimeError: something inside broke" in result.output
    assert "Traceback" not in result.output


def test_initial_checkpoint_starts_from_weights_with_another_classifier(tmp_path, model_dir):
    five = specc.instantiate(specc.compile(TINY, overrides=["num_classes=5"]))
    path = tmp_path / "five.pt"
    torch.save(five.state_dict(), path)
    out = tmp_path / "o"
    result = train(str(model_dir / "train.yaml"), "--data", "synthetic", "--synthetic-images",
                   "16", "--max-steps", "1", "--out", str(out), "--initial-checkpoint", str(path),
                   "--set", "lr_base=1e-9")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"initial weights: 72 tensors imported from {path}" in result.output
    assert "left freshly initialised: classifier.weight, classifier.bias" in result.output
    trained = torch.load(out / "last.pt", weights_only=True)["model"]
    torch.testing.assert_close(trained["stem.conv.weight"], five.state_dict()["stem.conv.weight"])


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def assert_same_run(a: Path, b: Path) -> None:
    """Same final weights and optimiser state, and the same metrics rows."""
    for name in ("last.pt", "best.pt"):
        x_state = torch.load(a / name, weights_only=True)
        y_state = torch.load(b / name, weights_only=True)
        assert x_state["step"] == y_state["step"] and x_state["epoch"] == y_state["epoch"]
        for (key, x), (_, y) in zip(flat(x_state), flat(y_state), strict=True):
            if isinstance(x, torch.Tensor) and not key.startswith(("rng", "partial")):
                assert torch.equal(x, y), f"{name}: {key} differs"
    left, right = rows(a), rows(b)
    assert [(r["epoch"], r["step"]) for r in left] == [(r["epoch"], r["step"]) for r in right]
    for x, y in zip(left, right, strict=True):
        assert x["train_loss"] == pytest.approx(y["train_loss"], rel=1e-9)
        assert x["eval_top1"] == y["eval_top1"] and x["train_top1"] == y["train_top1"]


@pytest.fixture
def two_epochs(tmp_path, model_dir):
    """A 2-epoch run of 3 steps per epoch, uninterrupted, and the arguments to repeat it."""
    data = image_folder(tmp_path / "data", per_class=8, val=2)  # 24 images: 3 steps per epoch
    args = [str(model_dir / "train.yaml"), "--data", str(data), "--epochs", "2"]
    whole = tmp_path / "whole"
    assert train(*args, "--out", str(whole)).exit_code == 0
    assert len(rows(whole)) == 2
    return args, whole


@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_epoch_checkpoints_and_resume_is_exact(
    tmp_path, two_epochs, monkeypatch, number, code
):
    args, whole = two_epochs
    original = trainer.Run.step

    def signalled(self, inputs, labels):
        if self.state.step == 3:  # the first step of epoch 1
            os.kill(os.getpid(), number)
        return original(self, inputs, labels)

    parts = tmp_path / "parts"
    with monkeypatch.context() as patch:
        patch.setattr(trainer.Run, "step", signalled)
        stopped = train(*args, "--out", str(parts))
    assert stopped.exit_code == code, stopped.output
    name = signal.Signals(number).name
    assert f"{name} at epoch 1 step 4: checkpoint written to {parts / 'last.pt'}" in stopped.output
    assert f"--out {parts} --resume --data {args[2]} --epochs 2" in stopped.output
    assert torch.load(parts / "last.pt", weights_only=True)["step"] == 4
    assert len(rows(parts)) == 1
    resumed = train(*args, "--out", str(parts), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed from" in resumed.output and "at epoch 1 step 4" in resumed.output
    assert_same_run(whole, parts)


def test_checkpoint_every_writes_mid_epoch_checkpoints(tmp_path, two_epochs, monkeypatch):
    args, _ = two_epochs
    saved = []
    original = trainer.Run.save

    def spy(self, name):
        saved.append((name, self.state.step))
        return original(self, name)

    monkeypatch.setattr(trainer.Run, "save", spy)
    assert train(*args, "--out", str(tmp_path / "o"), "--checkpoint-every", "2").exit_code == 0
    assert ("last.pt", 2) in saved and ("last.pt", 4) in saved


def test_max_steps_at_an_epochs_end_then_resume_writes_no_empty_row(tmp_path, two_epochs):
    args, whole = two_epochs
    parts = tmp_path / "parts"
    first = train(*args, "--out", str(parts), "--max-steps", "3")
    assert first.exit_code == 0 and len(rows(parts)) == 1
    assert train(*args, "--out", str(parts), "--resume").exit_code == 0
    assert all(row["train_loss"] > 0 and row["images_per_s"] > 0 for row in rows(parts))
    assert_same_run(whole, parts)


def test_a_kill_between_the_epochs_files_loses_nothing(tmp_path, two_epochs, monkeypatch):
    # The epoch's row, then best.pt, then last.pt: killed before last.pt, the resumed run
    # redoes the epoch, keeps one row for it and rewrites best.pt from that epoch.
    args, whole = two_epochs
    original = trainer.Run.save

    def killed(self, name):
        if name == "last.pt" and self.state.epoch == 2:  # at the end of the last epoch
            raise SystemExit(137)
        return original(self, name)

    parts = tmp_path / "parts"
    with monkeypatch.context() as patch:
        patch.setattr(trainer.Run, "save", killed)
        assert train(*args, "--out", str(parts)).exit_code == 137
    resumed = train(*args, "--out", str(parts), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(whole, parts)


def test_tensorboard_without_the_package_is_a_message(tmp_path, model_dir):
    try:
        import tensorboard  # noqa: F401

        pytest.skip("tensorboard is installed")
    except ImportError:
        pass
    result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(tmp_path / "o"),
                   "--log", "tensorboard")  # fmt: skip
    assert result.exit_code == 1
    assert "--log tensorboard needs tensorboard: pip install tensorboard" in result.output


def test_a_rebuild_keeps_the_run_and_off_a_terminal_progress_is_plain_lines(
    tmp_path, model_dir, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--set", "log_interval=1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1:4] == [f"run folder {Path('runs') / 'tiny'}", "device cpu",
                          "data synthetic: 16 training images, 3 classes"]  # fmt: skip
    step = next(line for line in lines if line.startswith("epoch 0 step 1/2: loss "))
    assert " lr " in step and " img/s ETA " in step
    specc.write(specc.compile(TINY, overrides=["head.channels=48"]), model_dir)
    assert (tmp_path / "runs" / "tiny" / "last.pt").is_file()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["train", "CONFIG", "--data", "synthetic"],
         "specc train needs torch and torchvision: pip install 'specc[train]' (missing: torch)"),
        (["weights", "import", "a.pth", "--into", "x"], "needs torch: pip install 'specc[torch]'"),
    ],
)  # fmt: skip
def test_without_torch_the_commands_say_what_to_install(monkeypatch, model_dir, command, message):
    """(After the checks that need no torch: train's config here is a real one.)"""
    import importlib.util

    command = [str(model_dir / "train.yaml") if word == "CONFIG" else word for word in command]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_a_config_without_the_build_record_is_still_checked_before_step_one(tmp_path, model_dir):
    config = model_dir / "train.yaml"
    text = config.read_text()
    start = text.index("built:")
    end = text.index("epochs:")
    config.write_text(text[:start] + text[end:])  # a train.yaml from before `built:`
    # ... and a model.py from before the constructor took `in_chans`.
    model = model_dir / "model.py"
    source = model.read_text()
    old = source.replace("        in_chans: int = 3,\n", "").replace(
        "ConvNormAct(in_chans,", "ConvNormAct(3,"
    )
    assert old != source
    model.write_text(old)
    result = train(str(config), *SYNTHETIC, "--out", str(tmp_path / "o"), "--set", "in_chans=1")
    assert result.exit_code == 1
    assert "the model takes 3 input channels but the data gives 1" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_a_resume_keeps_the_runs_own_settings_and_names_a_changed_one(tmp_path, model_dir):
    """The README's flow: train with --set, resume. The checkpoint keeps the run's --set, so
    a bare --resume goes on with hflip=0; another value for it is refused, naming the key
    and its two values."""
    config, out = str(model_dir / "train.yaml"), str(tmp_path / "o")
    first = train(config, *SYNTHETIC, "--out", out, "--set", "hflip=0")
    assert first.exit_code == 0, first.output
    assert "--resume --data synthetic --set hflip=0" in first.output  # the printed command
    refused = train(config, *SYNTHETIC, "--out", out, "--resume", "--set", "hflip=0.5")
    assert refused.exit_code == 1
    assert "hflip: 0.0 in the checkpoint, 0.5 now" in refused.output
    assert "pass the same --set values when resuming" in refused.output
    again = train(config, "--synthetic-images", "16", "--max-steps", "3", "--out", out, "--resume")
    assert again.exit_code == 0, again.output
