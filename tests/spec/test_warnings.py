"""Warnings: legal but probably unmeant values are reported, located, and never stop a build
or enter --json output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.diagnostics import Diagnostic, Location, unique, warning

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
WARNED = "defaults.norm.momentum: momentum 0.99 looks like TensorFlow's decay"


def tf_momentum(tmp_path: Path) -> Path:
    path = tmp_path / "tf.yaml"
    path.write_text(TINY.read_text().replace("momentum: 0.1}", "momentum: 0.99}"))
    return path


def test_a_tf_style_momentum_is_a_located_warning(tmp_path):
    path = tf_momentum(tmp_path)
    loaded = specc.load(path)
    (found,) = loaded.warnings
    assert found.severity == "warning"
    assert str(found) == (
        f"{path}:9:23: {WARNED}: specc uses PyTorch's convention, momentum = 1 - TF decay "
        "(TF's 0.99 is 0.01) (did you mean 0.01?)"
    )
    assert specc.compile(loaded).warnings == [found]


@pytest.mark.parametrize("momentum", ["0.1", "0.01", "0.5"])
def test_pytorch_style_momenta_are_quiet(momentum):
    loaded = specc.load(TINY, [f"defaults.norm.momentum={momentum}"])
    assert loaded.warnings == ()


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specc", *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.parametrize("command", ["build", "show", "validate"])
def test_commands_print_warnings_on_stderr_once(tmp_path, command):
    path = tf_momentum(tmp_path)
    result = run(command, str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines == [f"warning: {path}:9:23: {WARNED}" + lines[0].split("decay", 1)[1]]
    assert "TensorFlow" not in result.stdout


def test_json_output_stays_one_document(tmp_path):
    path = tf_momentum(tmp_path)
    result = run("build", str(path), "--json", "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["name"] == "tiny"
    assert result.stderr.startswith("warning: ")


def test_a_set_override_is_located_at_the_flag(tmp_path):
    result = run("show", str(TINY), "--set", "defaults.norm.momentum=0.9", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.startswith(
        f"warning: {TINY} (--set defaults.norm.momentum=0.9): defaults.norm.momentum: "
    )
    assert "(did you mean 0.1?)" in result.stderr


def test_unique_keeps_the_first_of_each():
    where = Location("x.yaml", 1, 2)
    first, other = warning("a", where), Diagnostic("a", where)
    assert unique([first, other, first]) == [first, other]
