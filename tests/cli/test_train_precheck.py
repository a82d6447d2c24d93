"""`specc train` checks what needs no torch first (issue 22): a wrong path, argument, data
folder or run folder fails at once, with a message that says what to pass instead, and
before torch is imported; nothing is created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "gen"
    specc.write(specc.compile(specc.load(TINY)), out)
    return out


def image_folder(root: Path, classes: list[str]) -> Path:
    for split in ("train", "val"):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            (root / split / name / "0.png").write_bytes(b"not decoded by the checks")
    return root


def train(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["train", *args])
    return result.exit_code, result.output


def test_a_spec_given_as_config_says_build_it_first() -> None:
    code, output = train(str(TINY), "--data", "synthetic")
    assert code == 1
    assert f"{TINY} is a spec, not a training config" in output
    assert f"specc build {TINY}), then pass generated/tiny-phi0/train.yaml" in output
    assert "did you mean" not in output and "Traceback" not in output


def test_a_generated_folder_given_as_config_trains_its_train_yaml(folder, tmp_path) -> None:
    code, output = train(str(folder), "--data", str(tmp_path / "missing"))
    assert code == 1 and "missing: no such folder" in output  # got past the config


def test_a_folder_without_train_yaml_is_named(tmp_path) -> None:
    code, output = train(str(tmp_path), "--data", "synthetic")
    assert code == 1 and f"{tmp_path}: a folder without train.yaml" in output


def test_one_class_needs_two_or_more_classes(folder, tmp_path) -> None:
    data = image_folder(tmp_path / "data", ["digit0"])
    code, output = train(str(folder), "--data", str(data))
    assert code == 1
    assert "one class folder (digit0): a classifier needs two or more classes" in output
    assert "num_classes=1" not in output


def test_resume_without_a_checkpoint_creates_no_folder(folder, tmp_path) -> None:
    out = tmp_path / "run"
    code, output = train(str(folder), "--data", "synthetic", "--resume", "--out", str(out))
    assert code == 1 and f"{out / 'last.pt'}: no such checkpoint" in output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["CONFIG", "--data", "MISSING"], "no such folder"),
        (["CONFIG", "--data", "synthetic", "--initial-checkpoint", "nope.pt"], "no such file"),
        (["CONFIG", "--data", "synthetic", "--out", "RUN"], "already holds a run"),
        (["CONFIG", "--data", "synthetic", "--set", "hfilp=0"], "did you mean 'hflip'"),
    ],
)
def test_cheap_failures_come_before_torch_is_imported(folder, tmp_path, args, message) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"")
    names = {
        "CONFIG": str(folder),
        "MISSING": str(tmp_path / "missing"),
        "RUN": str(tmp_path / "run"),
    }
    argv = ["train", *(names.get(word, word) for word in args)]
    script = (
        "import sys\nfrom click.testing import CliRunner\nfrom specc.cli import main\n"
        f"result = CliRunner().invoke(main, {argv!r})\n"
        "print(result.output)\n"
        "print('torch imported' if 'torch' in sys.modules else 'no torch')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert message in done.stdout, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("no torch")
