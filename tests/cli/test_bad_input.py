"""Bad input, as a user meets it: exit code, a located message naming the field, no
traceback, and no output folder created or half-written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
B0 = ROOT / "specs" / "b0.yaml"
LOCATED = re.compile(r"^error: (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<path>[\w.\[\]]+): ")


def specc(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def variant(tmp_path: Path, old: str, new: str) -> str:
    text = B0.read_text()
    assert old in text
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace(old, new, 1))
    return str(path)


CASES = {
    "malformed yaml": ("stem:\n  kernel: 3", "stem: {kernel: 3", "stem"),
    "unknown key": ("round_limit: 0.9", "round_limt: 0.9", "scaling.channels.round_limt"),
    "wrong type": ("channels: 24, repeats: 2", "channels: lots, repeats: 2", "stages[1].channels"),
    "zero channels": ("channels: 24, repeats: 2", "channels: 0, repeats: 2", "stages[1].channels"),
    "negative channels": ("channels: 32\n", "channels: -32\n", "stem.channels"),
    "even kernel": ("kernel: 5, stride: 2, channels: 40", "kernel: 4, stride: 2, channels: 40",
                    "stages[2].kernel"),
    "stride 3": ("kernel: 5, stride: 2, channels: 40", "kernel: 5, stride: 3, channels: 40",
                 "stages[2].stride"),
    "unknown block kind": ("block: mbconv, expand: 1", "block: fancy, expand: 1",
                           "stages[0].block"),
    "unsafe name": ("name: efficientnet", "name: ../../etc", "name"),
    "name with a newline": ("name: efficientnet", 'name: "efficientnet\\n"', "name"),
    "boolean kernel": ("kernel: 3\n", "kernel: true\n", "stem.kernel"),
    "quoted channels": ("channels: 32\n", 'channels: "32"\n', "stem.channels"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_spec_errors(tmp_path, case):
    old, new, field = CASES[case]
    spec = variant(tmp_path, old, new)
    result = specc("build", spec, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    if case == "malformed yaml":
        assert re.match(rf"^error: {re.escape(spec)}:\d+:\d+: malformed YAML", first), first
    else:
        match = LOCATED.match(first)
        assert match, first
        assert match["file"] == spec and match["path"] == field
    assert not (tmp_path / "generated").exists()


def test_no_stages(tmp_path):
    text = B0.read_text()
    start, end = text.index("stages:"), text.index("head:")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text[:start] + "stages: []\n" + text[end:])
    result = specc("build", str(spec), cwd=tmp_path)
    assert result.returncode == 1
    assert LOCATED.match(result.stderr)["path"] == "stages"
    assert not (tmp_path / "generated").exists()


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--preset", "b9"], 1, "presets: unknown preset 'b9'"),
        (["--phi", "2", "--preset", "b2"], 2, "--phi and --preset exclude each other"),
        (["--phi", "nan"], 2, "phi must be a finite number"),
        (["--phi", "inf"], 2, "phi must be a finite number"),
        (["--phi", "-inf"], 2, "phi must be a finite number"),
        (["--phi", "six"], 2, "is not a number"),
        (["--phi", "40"], 1, "scaling.coefficients: phi = 40 gives an absurdly large model"),
        (["--set", "stem"], 2, "expected PATH=VALUE"),
        (["--set", "stem.kernel=4"], 1, "stem.kernel: an even kernel (4) is a patchify conv"),
        (["--set", "stages[5].repeats=yes"], 1, "stages[5].repeats: expected a whole number"),
        (["--preset", "b1\n"], 2, "'b1\\n' is not a preset name"),
        (["--preset", "../b1"], 2, "'../b1' is not a preset name"),
        (["--preset", "b" * 40], 2, "is not a preset name"),
    ],
)
def test_selector_and_flag_errors(tmp_path, args, code, text):
    result = specc("build", str(B0), *args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "generated").exists()
    if code == 1:
        assert LOCATED.match(result.stderr) or "(--set" in result.stderr


HOSTILE_FILES = {
    "alias bomb": (
        "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)),
        r"spec\.yaml:2:10: aliases expand the document to [\d,]+ values, over the limit",
    ),
    "deep nesting": ("a: " + "[" * 5000 + "\n", r"spec\.yaml:1:\d+: nesting deeper than"),
    "huge file": (
        "# padding\n" * 1_300_000 + B0.read_text(),
        r"spec\.yaml: the file is [\d,]+ bytes, over the limit of 1,048,576 bytes",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
@pytest.mark.parametrize("command", ["build", "show", "validate"])
def test_hostile_files_are_refused_with_a_located_limit(tmp_path, case, command):
    text, message = HOSTILE_FILES[case]
    (tmp_path / "spec.yaml").write_text(text)
    result = specc(command, "spec.yaml", cwd=tmp_path, timeout=10)
    assert result.returncode == 1, result.stderr
    assert re.fullmatch(rf"error: {message}[^\n]*\n", result.stderr), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_allow_large_overrides_the_guard(tmp_path):
    result = specc("show", str(B0), "--phi", "14", cwd=tmp_path)
    assert result.returncode == 1 and "--allow-large" in result.stderr
    assert "3,461,716,645,040 MACs (limit 2,000,000,000,000)" in result.stderr
    result = specc("show", str(B0), "--phi", "14", "--allow-large", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_output_path_that_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("keep me")
    result = specc("build", str(B0), "--out", str(target), cwd=tmp_path)
    assert result.returncode == 1
    assert f"error: {target}: --out: the output path is a file" in result.stderr
    assert target.read_text() == "keep me"


def test_foreign_output_folder_is_not_replaced(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = specc("build", str(B0), "--out", str(target), cwd=tmp_path)
    assert result.returncode == 1 and "not a specc output" in result.stderr
    assert (target / "notes.txt").read_text() == "keep me"


def test_missing_spec_file(tmp_path):
    result = specc("build", "nope.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "error: nope.yaml: no such file" in result.stderr


def test_failed_write_leaves_no_half_written_folder(tmp_path, monkeypatch):
    import specc as api
    import specc.build.folder

    real = specc.build.folder._write_files

    def fail(target, files):
        real(target, dict(list(files.items())[:2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(specc.build.folder, "_write_files", fail)
    with pytest.raises(api.SpecError, match="cannot write the output folder: No space left"):
        api.write(api.compile(B0), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
