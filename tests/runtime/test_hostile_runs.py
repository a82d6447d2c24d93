"""Run folders and results files under concurrency and faults (issue 18, kind 5): one
owner each (a lock; the second is refused naming the first), checks before the first
step, "no space" said so with the previous last.pt kept, torn last lines repaired, and
temporaries removed on signals and found and removed by the next run."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from click.testing import CliRunner  # noqa: E402
from test_trainer import TINY, image_folder, train  # noqa: E402

import specc  # noqa: E402
from specc.build.lock import owned  # noqa: E402
from specc.cli import main  # noqa: E402
from specc.diagnostics import Interrupted  # noqa: E402
from specc.runtime import files  # noqa: E402
from specc.runtime import weights as weights_module  # noqa: E402
from specc.runtime.files import sweep_temporaries, temporary_beside, terminate_raises  # noqa: E402
from specc.runtime.train import trainer  # noqa: E402

SYNTHETIC = ("--data", "synthetic", "--synthetic-images", "16", "--max-steps", "2")
B0 = str(Path(__file__).resolve().parents[2] / "specs" / "b0.yaml")


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "tiny"
    specc.write(specc.compile(TINY), folder)
    return folder


def no_step(monkeypatch) -> list[int]:
    steps: list[int] = []
    original = trainer.Run.step

    def counted(self, inputs, labels):
        steps.append(self.state.step)
        return original(self, inputs, labels)

    monkeypatch.setattr(trainer.Run, "step", counted)
    return steps


def test_a_second_train_into_one_run_folder_is_refused_naming_the_first(
    tmp_path, model_dir, monkeypatch
):
    out = tmp_path / "runs" / "tiny"
    steps = no_step(monkeypatch)
    with owned(out.parent / ".tiny.lock", f"run folder {out}"):  # a first run holds it
        result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"in use by another specc process (pid {os.getpid()}" in result.output
    assert steps == [] and not out.exists()
    again = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(out))
    assert again.exit_code == 0, again.output  # the lock of a finished run is free


def test_a_second_search_on_one_results_file_is_refused(tmp_path):
    results = tmp_path / "search.jsonl"
    command = f"{sys.executable} -c print {{config}}"
    args = ["search", B0, "--step", "0.1", "--tolerance", "0.05", "--eval", command,
            "--results", str(results), "--limit", "1"]  # fmt: skip
    with owned(tmp_path / ".search.jsonl.lock", f"results file {results}"):
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"results file {results} is in use by another specc process" in result.output
    assert not results.exists() and not (tmp_path / "search.runs").exists()


@pytest.mark.parametrize("fault", ["read-only", "a file in the way"])
def test_an_unwritable_run_folder_stops_before_the_first_step(
    tmp_path, model_dir, monkeypatch, fault
):
    steps = no_step(monkeypatch)
    if fault == "read-only":
        out = tmp_path / "ro"

        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    else:
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "run"
    result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"run folder {out}: cannot write there" in result.output
    assert steps == []


def test_a_full_disk_says_no_space_and_keeps_the_previous_checkpoint(
    tmp_path, model_dir, monkeypatch
):
    data = image_folder(tmp_path / "data", per_class=8, val=2)
    out = tmp_path / "run"
    args = [str(model_dir / "train.yaml"), "--data", str(data), "--out", str(out)]
    assert train(*args, "--epochs", "1").exit_code == 0
    before = (out / "last.pt").read_bytes()
    original = torch.save

    def full(state, path, *rest, **kwargs):
        original(state, path, *rest, **kwargs)  # what torch wrote before the disk filled
        raise RuntimeError(
            "[enforce fail at inline_container.cc:626] . PytorchStreamWriter failed "
            "writing file data/3: file write failed"
        )

    monkeypatch.setattr(weights_module.torch, "save", full)
    result = train(*args, "--epochs", "2", "--resume")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no space left on device" in result.output
    assert "the previous best.pt is kept" in result.output or "previous last.pt" in result.output
    assert (out / "last.pt").read_bytes() == before
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporaries


@pytest.mark.parametrize("torn", ['{"epoch": 1, "step": 6, "lr', "\x00\x00\x00"])
def test_a_torn_last_metrics_line_is_repaired_on_resume(tmp_path, model_dir, torn):
    data = image_folder(tmp_path / "data", per_class=8, val=2)
    out = tmp_path / "run"
    args = [str(model_dir / "train.yaml"), "--data", str(data), "--out", str(out)]
    assert train(*args, "--epochs", "1").exit_code == 0
    with (out / "metrics.jsonl").open("a") as handle:
        handle.write(torn)  # a kill or a full disk mid-write: no newline
    with (out / "metrics.csv").open("a") as handle:
        handle.write("1,6,0.0")
    result = train(*args, "--epochs", "2", "--resume")
    assert result.exit_code == 0, result.output
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1]
    assert len((out / "metrics.csv").read_text().splitlines()) == 3  # header + 2 rows


def test_a_corrupt_metrics_line_in_the_middle_is_named(tmp_path, model_dir):
    data = image_folder(tmp_path / "data", per_class=8, val=2)
    out = tmp_path / "run"
    args = [str(model_dir / "train.yaml"), "--data", str(data), "--out", str(out)]
    assert train(*args, "--epochs", "1").exit_code == 0
    text = (out / "metrics.jsonl").read_text()
    (out / "metrics.jsonl").write_text("not json\n" + text)
    result = train(*args, "--epochs", "2", "--resume")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{out / 'metrics.jsonl'}:1: not a metrics row" in result.output


def test_temporaries_of_a_killed_run_are_removed_by_the_next_one(tmp_path, model_dir):
    out = tmp_path / "run"
    out.mkdir()
    dead = out / ".last.pt.abcd1234.tmp"
    dead.write_bytes(b"half a checkpoint")
    mine = out / "notes.last.pt.tmp"  # not a temporary's name: the user's
    mine.write_text("keep")
    result = train(str(model_dir / "train.yaml"), *SYNTHETIC, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert not dead.exists() and mine.read_text() == "keep"


def test_a_living_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "model.onnx"
    with temporary_beside(target, ".onnx") as alive:
        alive.write_bytes(b"being written")
        assert alive.name.startswith(".model.onnx.") and alive.name.endswith(".tmp.onnx")
        assert sweep_temporaries(target, ".onnx") == []  # its writer holds it
        assert alive.exists()
    assert not alive.exists()
    left = tmp_path / ".model.onnx.zz99yy88.tmp.onnx"  # a killed export's
    left.write_bytes(b"")
    assert sweep_temporaries(target, ".onnx") == [left] and not left.exists()


def test_sigterm_while_writing_removes_the_temporary(tmp_path):
    target = tmp_path / "weights.pt"
    with (
        pytest.raises(Interrupted) as stopped,
        terminate_raises(),
        temporary_beside(target) as temporary,
    ):
        temporary.write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
    assert stopped.value.exit_code == 143
    assert list(tmp_path.iterdir()) == []
