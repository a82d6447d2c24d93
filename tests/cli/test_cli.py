"""End-to-end CLI: what a user types and sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli import main

ROOT = Path(__file__).resolve().parents[2]
B0 = str(ROOT / "specs" / "b0.yaml")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_build_phi6_writes_the_folder_and_prints_the_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("build", B0, "--phi", "6")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "generated" / "efficientnet-phi6"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".specc-manifest", "architecture.json", "model.py", "report.md", "train.yaml"]
    out = result.output
    assert "depth 2.9860 (1.2^6)" in out and "width 1.7716 (1.1^6)" in out
    assert "input 3x518x518" in out and "dropout 0.5, drop-path 0.2" in out
    assert "params 45,464,648" in out and "MACs 20.094 G" in out and "FLOPs 40.188 G" in out
    assert "nearest preset: b6" in out and "43,040,704 params" in out
    assert "568 → 2264" in out  # the head row
    assert "wrote generated/efficientnet-phi6/model.py" in out


def test_build_json_is_one_document_with_the_documented_keys(tmp_path):
    result = run("build", B0, "--preset", "b6", "--json", "--out", str(tmp_path / "b6"))
    assert result.exit_code == 0
    data = json.loads(result.output)  # nothing else on stdout
    for key in (
        "name",
        "selector",
        "multipliers",
        "resolution",
        "params",
        "macs",
        "stages",
        "outputs",
    ):
        assert key in data
    assert data["params"] == 43_040_704 and data["resolution"] == 528
    assert data["multipliers"]["width"] == 1.8
    assert [s["repeats"] for s in data["stages"]] == [3, 6, 6, 8, 8, 11, 3]
    assert set(data["stages"][0]) >= {"block", "kernel", "stride", "expand", "se", "in_channels",
                                      "out_channels", "repeats"}  # fmt: skip
    files = ["model.py", "architecture.json", "report.md", "train.yaml"]
    assert data["outputs"] == [str(tmp_path / "b6" / name) for name in files]


def test_show_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("show", B0, "--phi", "-1", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["params"] == 4_548_152 and data["outputs"] == []
    assert data["selector"] == {"mode": "phi", "phi": -1.0, "label": "phim1"}
    assert list(tmp_path.iterdir()) == []


def test_set_overrides_apply_and_are_recorded(tmp_path):
    out = tmp_path / "o"
    result = run("build", B0, "--set", "scaling.head.rule=multiple_of_last", "--phi", "6", "--json",
                 "--out", str(out))  # fmt: skip
    assert json.loads(result.output)["head"]["out_channels"] == 2272
    recorded = json.loads((out / "architecture.json").read_text())["spec"]["overrides"]
    assert recorded == ["scaling.head.rule=multiple_of_last"]


def test_check_detects_stale_and_fresh_folders(tmp_path):
    out = str(tmp_path / "o")
    assert run("build", B0, "--out", out).exit_code == 0
    fresh = run("build", B0, "--out", out, "--check")
    assert fresh.exit_code == 0 and "up to date" in fresh.output
    stale = run("build", B0, "--out", out, "--check", "--phi", "1")
    assert stale.exit_code == 1
    assert "model.py: would change" in stale.output
    # --check never writes.
    assert json.loads((tmp_path / "o" / "architecture.json").read_text())["selector"]["phi"] == 0.0


def test_rebuild_replaces_a_previous_output(tmp_path):
    out = tmp_path / "o"
    assert run("build", B0, "--out", str(out), "--phi", "1").exit_code == 0
    assert run("build", B0, "--out", str(out), "--phi", "2").exit_code == 0
    assert json.loads((out / "architecture.json").read_text())["selector"]["phi"] == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no staging folders left


def test_validate_and_schema():
    result = run("validate", B0)
    assert result.exit_code == 0 and "ok (7 stages, 10 presets compile)" in result.output
    schema = json.loads(run("schema").output)
    assert schema["title"] == "Spec" and "stages" in schema["properties"]


def test_build_imports_no_torch_and_needs_no_traceback(tmp_path):
    probe = (
        "import sys; from specc.cli import main\n"
        "try:\n    main(['build', sys.argv[1], '--preset', 'b7', '--out', sys.argv[2]])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "assert 'torch' not in sys.modules, 'specc build imported torch'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, B0, str(tmp_path / "b7")], capture_output=True
    )
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize("command", ["build", "show"])
def test_version_and_help(command):
    assert run(command, "--help").exit_code == 0
    assert "specc, version" in run("--version").output
