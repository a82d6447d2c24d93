"""Under an ASCII locale every command prints readable ASCII and never fails on `→`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from specc.emit.textout import to_ascii

ROOT = Path(__file__).resolve().parents[2]
B0 = str(ROOT / "specs" / "b0.yaml")
TINY = str(ROOT / "tests" / "data" / "tiny.yaml")

COMMANDS = {
    "build": (["build", TINY, "--out", "{tmp}/o"], 0),
    "build --check stale": (["build", TINY, "--out", "{tmp}/o", "--phi", "1", "--check"], 1),
    "show": (["show", B0, "--phi", "1"], 0),
    "show --layers": (["show", B0, "--layers"], 0),
    "show markdown": (["show", B0, "--format", "markdown"], 0),
    "validate": (["validate", B0], 0),
    "diff": (["diff", f"{B0}@phi=1", f"{B0}@preset=b1", "--layers"], 1),
    "sweep": (["sweep", B0, "--phi", "0:2"], 0),
    "error": (["build", B0, "--set", "stem.kernel=4"], 1),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_prints_ascii_under_the_c_locale(tmp_path, name):
    args, code = COMMANDS[name]
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "COLUMNS": "200"}
    env.pop("PYTHONIOENCODING", None)
    if name == "build --check stale":
        subprocess.run([sys.executable, "-m", "specc", "build", TINY, "--out", f"{tmp_path}/o"],
                       env=env, check=True, capture_output=True)  # fmt: skip
    command = [sys.executable, "-m", "specc", *(a.format(tmp=tmp_path) for a in args)]
    result = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert result.returncode == code, result.stderr.decode(errors="replace")
    out, err = result.stdout.decode("ascii"), result.stderr.decode("ascii")  # both pure ASCII
    assert "Traceback" not in err and "?" not in out.replace("(?)", "")
    if name in ("build", "show"):
        assert " -> " in out
        rows = [line for line in out.splitlines() if line.startswith(("|", "+"))]
        assert rows and len({len(row) for row in rows}) == 1  # columns still line up


def test_spellings_are_readable():
    assert to_ascii("3 → 32, φ = 1, ≥ 2 × 3 − 1 …") == "3 -> 32, phi = 1, >= 2 x 3 - 1 ..."
    assert to_ascii("café ✓ 日") == "cafe ok ?"
