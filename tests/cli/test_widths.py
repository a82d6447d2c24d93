"""Every table and line fits the width (issue 22): 80 columns in a pipe, the `COLUMNS` a
terminal or a user sets otherwise, by folding lines and dropping the least needed columns;
no line ends in spaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli import main

SPECS = Path(__file__).resolve().parents[2] / "specs"
B0 = str(SPECS / "b0.yaml")
COMMANDS = [
    ["show", B0, "--phi", "6"],
    ["show", B0, "--preset", "b6"],
    ["diff", f"{B0}@phi=6", f"{B0}@preset=b6"],
    ["sweep", B0, "--phi", "0:2"],
    ["search", B0, "--step", "0.1", "--tolerance", "0.05"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_output_fits_80_columns_without_trailing_spaces(command):
    result = CliRunner().invoke(main, command)
    lines = result.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, result.stdout
    assert all(line == line.rstrip() for line in lines)


def test_a_wider_columns_keeps_every_column():
    narrow = CliRunner().invoke(main, ["search", B0, "--step", "0.1", "--tolerance", "0.05"])
    wide = CliRunner().invoke(main, ["search", B0, "--step", "0.1", "--tolerance", "0.05"],
                              env={"COLUMNS": "160"})  # fmt: skip
    assert "a*b^2*g^2" in wide.stdout and "a*b^2*g^2" not in narrow.stdout
    assert max(len(line) for line in wide.stdout.splitlines()) > 80
