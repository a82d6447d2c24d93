"""Generated folders: nothing a user made is deleted, a kill at any instant leaves one
complete build, and concurrent builds take turns."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import specc
import specc.build.folder
import specc.build.lock
from specc.build.folder import GENERATED, MANIFEST, recover
from specc.build.lock import locked
from specc.emit.files import render

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


@pytest.fixture(scope="module")
def builds():
    """Two different builds of the tiny spec: (architecture, rendered files) for phi 0, 1."""
    result = []
    for phi in (0.0, 1.0):
        arch = specc.compile(TINY, phi=phi)
        result.append((arch, render(arch)))
    return result


def user_files(folder: Path) -> dict[str, str]:
    files = {
        "notes.md": "my notes\n",
        "runs/train/best.pt": "weights",
        "runs/train/metrics.jsonl": '{"epoch": 0}\n',
        "model.py.orig": "my own copy\n",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return files


def assert_kept(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        assert (folder / name).read_text() == text, name


def generated_state(folder: Path) -> dict[str, str]:
    names = [n for n in (*GENERATED, MANIFEST) if (folder / n).exists()]
    return {n: (folder / n).read_text() for n in names}


def expected(files: dict[str, str]) -> dict[str, str]:
    return {**files, MANIFEST: specc.build.folder.manifest_text(files)}


def test_rebuild_keeps_runs_and_user_files(tmp_path, builds):
    (arch0, _), (arch1, files1) = builds
    folder = tmp_path / "out"
    specc.write(arch0, folder)
    mine = user_files(folder)
    specc.write(arch1, folder)
    assert_kept(folder, mine)
    assert generated_state(folder) == expected(files1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert not any(p.name.startswith(".specc-staging") for p in folder.iterdir())


def test_a_folder_without_a_manifest_is_not_specc_s(tmp_path, builds):
    """Files named like specc's but not listed in a manifest are the user's: a build
    refuses the folder and changes nothing."""
    (arch0, files0), _ = builds
    folder = tmp_path / "out"
    folder.mkdir()
    for name, text in files0.items():
        (folder / name).write_text(text)
    before = {p.name: p.read_text() for p in folder.iterdir()}
    for check in (True, False):
        with pytest.raises(specc.SpecError, match="not a specc output"):
            specc.write(arch0, folder, check=check)
    assert {p.name: p.read_text() for p in folder.iterdir()} == before


def test_only_files_the_manifest_names_are_removed(tmp_path, builds):
    (arch0, files0), _ = builds
    folder = tmp_path / "out"
    specc.write(arch0, folder)
    (folder / "extra.txt").write_text("made by an earlier build")
    (folder / "unproven.txt").write_text("named, but with no hash")
    (tmp_path / "outside.txt").write_text("not in the folder")
    names = [*files0, "extra.txt", "unproven.txt", "../outside.txt", "runs", "/etc/passwd"]
    hashes = json.loads(specc.build.folder.manifest_text(files0))["sha256"]
    hashes["extra.txt"] = hashlib.sha256(b"made by an earlier build").hexdigest()
    manifest = {"generated_by": "specc", "files": names, "sha256": hashes}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    (folder / "runs").mkdir()
    (folder / "runs" / "x").write_text("kept")
    check = specc.write(arch0, folder, check=True)
    assert f"{folder / 'extra.txt'}: generated before, no longer made" in check.changed
    specc.write(arch0, folder)
    assert not (folder / "extra.txt").exists()
    assert (folder / "unproven.txt").exists()  # no hash proves specc wrote it
    assert (tmp_path / "outside.txt").exists() and (folder / "runs" / "x").read_text() == "kept"


def test_check_compares_only_generated_files(tmp_path, builds):
    (arch0, _), (arch1, _) = builds
    folder = tmp_path / "out"
    specc.write(arch0, folder)
    user_files(folder)
    assert specc.write(arch0, folder, check=True).changed == []
    stale = specc.write(arch1, folder, check=True).changed
    assert stale and all(Path(line.split(":")[0]).name in GENERATED for line in stale)


def test_check_message_recommends_nothing_destructive(tmp_path):
    folder = tmp_path / "out"
    run = [sys.executable, "-m", "specc", "build", str(TINY), "--out", str(folder)]
    assert subprocess.run(run, capture_output=True).returncode == 0
    user_files(folder)
    result = subprocess.run([*run, "--phi", "1", "--check"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "only the files specc generated; other files stay" in result.stderr
    assert "rm " not in result.stderr and "remove" not in result.stderr
    assert (folder / "notes.md").exists()


class Killed(BaseException):
    """Stands for SIGKILL: raised at one file-system step, then at every later one, so no
    cleanup (`finally`) of the killed build gets to run."""


def kill_at(monkeypatch, step: int) -> list[int]:
    count = [0]

    def wrap(function):
        def wrapper(*args, **kwargs):
            count[0] += 1
            if count[0] >= step:
                raise Killed
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(os, "replace", wrap(os.replace))
    monkeypatch.setattr(os, "fsync", wrap(os.fsync))
    monkeypatch.setattr(Path, "rename", wrap(Path.rename))
    monkeypatch.setattr(Path, "unlink", wrap(Path.unlink))
    monkeypatch.setattr(Path, "mkdir", wrap(Path.mkdir))
    monkeypatch.setattr(shutil, "rmtree", wrap(shutil.rmtree))
    return count


@pytest.mark.parametrize("existing", [True, False], ids=["rebuild", "first build"])
def test_a_build_killed_at_any_step_leaves_one_complete_build(tmp_path, builds, existing):
    (arch0, files0), (arch1, files1) = builds
    step = 1
    while True:
        folder = tmp_path / f"case{step}" / "out"
        folder.parent.mkdir()
        mine = {}
        if existing:
            specc.write(arch0, folder)
            mine = user_files(folder)
        with pytest.MonkeyPatch.context() as patch:
            count = kill_at(patch, step)
            try:
                specc.write(arch1, folder)
                finished = True
            except Killed:
                finished = False
        recover(folder)  # what the next build or --check does first
        state = generated_state(folder)
        allowed = [expected(files1)] + ([expected(files0)] if existing else [{}])
        assert state in allowed, f"killed at step {step}"
        assert_kept(folder, mine)
        leftovers = [p.name for p in folder.parent.iterdir() if p.name != "out"]
        assert leftovers in ([], [".out.lock"]), leftovers
        if folder.exists():
            assert not any(p.name.startswith(".specc-staging") for p in folder.iterdir())
        specc.write(arch1, folder)
        assert generated_state(folder) == expected(files1)
        if finished:
            break
        step += 1
    print(f"killed at {step - 1} steps")
    assert step > 5 and count[0] >= step - 1  # every step of the write was tried


def test_concurrent_builds_take_turns_and_end_as_one_complete_build(tmp_path, builds):
    (arch0, files0), (arch1, files1) = builds
    folder = tmp_path / "out"
    specc.write(arch0, folder)
    mine = user_files(folder)
    errors: list[BaseException] = []

    def build(arch):
        try:
            for _ in range(5):
                specc.write(arch, folder)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(a,)) for a in (arch0, arch1, arch0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert generated_state(folder) in (expected(files0), expected(files1))
    assert_kept(folder, mine)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_concurrent_cli_builds_never_show_a_traceback(tmp_path):
    folder = tmp_path / "out"
    command = [sys.executable, "-m", "specc", "build", str(TINY), "--out", str(folder)]
    processes = [
        subprocess.Popen([*command, "--phi", str(phi)], stderr=subprocess.PIPE, text=True)
        for phi in (0, 1, 0, 1)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in processes if p.stderr]
    assert all(code == 0 for code, _ in results), results
    assert all("Traceback" not in err for _, err in results)
    up_to_date = [
        subprocess.run([*command, "--phi", str(phi), "--check"], capture_output=True).returncode
        for phi in (0, 1)
    ]
    assert sorted(up_to_date) == [0, 1]


def test_a_build_that_cannot_get_the_lock_fails_with_a_message(tmp_path, builds, monkeypatch):
    (arch0, _), _ = builds
    folder = tmp_path / "out"
    monkeypatch.setattr(specc.build.lock, "WAIT_S", 0.2)
    with (
        locked(tmp_path / ".out.lock"),
        pytest.raises(specc.SpecError, match=r"out: --out: another specc build is writing"),
    ):
        specc.write(arch0, folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_current_folder_can_be_the_output(tmp_path, builds, monkeypatch):
    (arch0, _), (arch1, files1) = builds
    monkeypatch.chdir(tmp_path)
    specc.write(arch0, ".")
    mine = user_files(tmp_path)
    specc.write(arch1, ".")
    assert generated_state(tmp_path) == expected(files1)
    assert_kept(tmp_path, mine)
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.*"))


def test_a_hand_edit_of_a_generated_file_is_kept_beside_it(tmp_path, builds):
    """train.yaml edited by hand, then a rebuild: specc's file comes back, the edit is kept
    as train.yaml.edited (a second edit as .edited.2), and the build warns; --check says
    the file was edited."""
    from click.testing import CliRunner

    from specc.cli import main

    folder = tmp_path / "model"
    (arch, files), _ = builds
    specc.write(arch, folder)
    (folder / "train.yaml").write_text("epochs: 7\n")
    runner = CliRunner()
    check = runner.invoke(main, ["build", str(TINY), "--out", str(folder), "--check"])
    assert check.exit_code == 1 and "edited by hand" in check.output
    result = runner.invoke(main, ["build", str(TINY), "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert "was edited by hand since specc wrote it; the edit is kept as train.yaml.edited" in (
        result.output
    )
    assert (folder / "train.yaml.edited").read_text() == "epochs: 7\n"
    assert (folder / "train.yaml").read_text() == files["train.yaml"]
    (folder / "train.yaml").write_text("epochs: 8\n")
    assert runner.invoke(main, ["build", str(TINY), "--out", str(folder)]).exit_code == 0
    assert (folder / "train.yaml.edited.2").read_text() == "epochs: 8\n"
    assert (folder / "train.yaml.edited").read_text() == "epochs: 7\n"
