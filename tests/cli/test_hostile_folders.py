"""Generated folders whose contents nobody can vouch for (issue 18, kinds 1 and 2).

Recovery never follows a symbolic link and never moves or deletes a file that the
manifest and its hash do not prove specc wrote; `build --check` changes nothing at all;
readers (load_model, train, export, diff) see one complete build: a build a kill left
half rolled forward is finished under the lock, or refused with the repair."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.build.folder import COMMITTED, MANIFEST, REMOVE, STAGING, manifest_text
from specc.diagnostics import SpecError
from specc.emit.files import render

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


@pytest.fixture(scope="module")
def builds():
    return [render(specc.compile(TINY, phi=phi)) for phi in (0.0, 1.0)]


def snapshot(root: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under `root`, without following links: kind, content or target."""
    state: dict[str, tuple[str, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            state[key] = ("link", os.readlink(path))
        elif path.is_file():
            state[key] = ("file", path.read_bytes())
        elif path.is_dir():
            state[key] = ("dir", str(path.stat().st_mode))
        else:
            state[key] = ("special", "")
    return state


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specc", *args], capture_output=True, text=True, timeout=timeout
    )


def built(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "out"
    specc.build.folder.write(files, folder)
    return folder


def user_folder(tmp_path: Path) -> Path:
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine\n")
    (user / "model.py").write_text("# my own model\n")
    return user


def stage_committed(folder: Path, files: dict[str, str], removed: list[str]) -> Path:
    """What a build killed right after its commit point leaves: a committed staging."""
    staging = folder / COMMITTED
    staging.mkdir()
    for name, text in {**files, MANIFEST: manifest_text(files)}.items():
        (staging / name).write_text(text)
    (staging / REMOVE).write_text("".join(f"{n}\n" for n in removed))
    return staging


@pytest.mark.parametrize("name", [STAGING, COMMITTED])
def test_a_staging_link_is_never_followed(tmp_path, builds, name):
    folder = built(tmp_path, builds[0])
    user = user_folder(tmp_path)
    (folder / name).symlink_to(user, target_is_directory=True)
    before = snapshot(tmp_path)
    check = cli("build", str(TINY), "--out", str(folder), "--check")
    assert check.returncode == 1 and "Traceback" not in check.stderr
    assert snapshot(tmp_path) == before  # --check changed nothing
    result = cli("build", str(TINY), "--out", str(folder), "--phi", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is a link" in result.stderr and "refusing to touch it" in result.stderr
    assert sorted(p.name for p in user.iterdir()) == ["model.py", "notes.txt"]
    assert (user / "model.py").read_text() == "# my own model\n"
    assert (folder / "model.py").read_text() == builds[0]["model.py"]


def test_a_redo_log_naming_a_user_file_deletes_nothing(tmp_path, builds):
    folder = built(tmp_path, builds[0])
    (folder / "notes.txt").write_text("mine\n")
    (folder / "report.md").write_text("edited by hand\n")  # named by the manifest, hash differs
    stage_committed(folder, builds[1], ["notes.txt", "report.md", "../user/notes.txt"])
    user_folder(tmp_path)
    before = snapshot(tmp_path)
    check = cli("build", str(TINY), "--out", str(folder), "--phi", "1", "--check")
    assert check.returncode == 1 and "a build was interrupted here" in check.stderr
    assert snapshot(tmp_path) == before
    assert cli("build", str(TINY), "--out", str(folder), "--phi", "1").returncode == 0
    assert (folder / "notes.txt").read_text() == "mine\n"
    assert (tmp_path / "user" / "notes.txt").read_text() == "mine\n"
    assert (folder / "model.py").read_text() == builds[1]["model.py"]


def test_a_staged_file_no_hash_proves_is_not_moved(tmp_path, builds):
    folder = built(tmp_path, builds[0])
    staging = stage_committed(folder, builds[1], [])
    (staging / "model.py").write_text("import os  # not what the build staged\n")
    (staging / "payload.sh").write_text("rm -rf ~\n")
    with pytest.raises(SpecError, match="no manifest proves specc wrote"):
        specc.build.folder.write(builds[1], folder)
    assert (folder / "model.py").read_text() == builds[0]["model.py"]
    assert (staging / "payload.sh").exists()


def test_an_uncommitted_staging_holding_user_files_is_kept(tmp_path, builds):
    folder = built(tmp_path, builds[0])
    staging = folder / STAGING
    staging.mkdir()
    (staging / "model.py").write_text("half written")
    (staging / "thesis.tex").write_text("mine")
    with pytest.raises(SpecError, match=r"holds files specc does not stage \(thesis.tex\)"):
        specc.build.folder.write(builds[1], folder)
    assert (staging / "thesis.tex").read_text() == "mine"


def test_special_files_in_a_generated_folder_never_hang_check(tmp_path, builds):
    folder = built(tmp_path, builds[0])
    (folder / MANIFEST).unlink()
    os.mkfifo(folder / MANIFEST)
    result = cli("build", str(TINY), "--out", str(folder), "--check", timeout=30)
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_the_lock_file_is_never_a_links_target(tmp_path, builds):
    folder = built(tmp_path, builds[0])
    target = tmp_path / "elsewhere.txt"
    (tmp_path / ".out.lock").symlink_to(target)
    result = cli("build", str(TINY), "--out", str(folder), "--phi", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not target.exists()


def test_check_writes_nothing_even_beside_a_new_folder(tmp_path):
    before = snapshot(tmp_path)
    result = cli("build", str(TINY), "--out", str(tmp_path / "new"), "--check")
    assert result.returncode == 1 and snapshot(tmp_path) == before


# --- readers see one complete build ----------------------------------------------------------


def half_rolled_forward(tmp_path: Path, builds: list[dict[str, str]]) -> Path:
    """A folder whose model.py is the new build's and the rest the old one's."""
    folder = built(tmp_path, builds[0])
    staging = stage_committed(folder, builds[1], [])
    os.replace(staging / "model.py", folder / "model.py")
    return folder


def test_load_model_finishes_an_interrupted_build_first(tmp_path, builds):
    folder = half_rolled_forward(tmp_path, builds)
    model = specc.load_model(folder)
    assert not (folder / COMMITTED).exists()
    for name, text in builds[1].items():
        assert (folder / name).read_text() == text, name
    assert sum(p.numel() for p in model.parameters()) == specc.compile(TINY, phi=1.0).params


def test_diff_reads_one_complete_build(tmp_path, builds):
    folder = half_rolled_forward(tmp_path, builds)
    result = cli("diff", f"{TINY}@phi=1", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (folder / COMMITTED).exists()


def test_a_reader_that_cannot_finish_the_build_names_the_repair(tmp_path, builds):
    folder = half_rolled_forward(tmp_path, builds)
    (folder / COMMITTED / "architecture.json").write_text("{}")  # not what was staged
    for args in (["diff", f"{TINY}@phi=1", str(folder)], ["export", str(folder)]):
        result = cli(*args)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr
        assert f"specc build SPEC --out {folder}" in result.stderr, args
    config = folder / "train.yaml"
    result = cli("train", str(config), "--data", "synthetic", "--max-steps", "1")
    assert result.returncode == 1 and f"specc build SPEC --out {folder}" in result.stderr
    digest = hashlib.sha256((folder / "model.py").read_bytes()).hexdigest()
    assert digest == hashlib.sha256(builds[1]["model.py"].encode()).hexdigest()  # untouched


def test_a_hand_edit_is_never_kept_through_a_link(tmp_path, builds):
    folder = built(tmp_path, builds[0])
    (folder / "report.md").write_text("my edit\n")
    outside = tmp_path / "outside.txt"
    (folder / "report.md.edited").symlink_to(outside)  # dangling: a copy would go through it
    specc.build.folder.write(builds[1], folder)
    assert not outside.exists()
    assert (folder / "report.md.edited.2").read_text() == "my edit\n"


@pytest.mark.parametrize("name", ["architecture.json", "train.yaml", "spec"])
def test_no_reader_waits_on_a_fifo(tmp_path, builds, name):
    folder = built(tmp_path, builds[0])
    if name == "spec":
        fifo = tmp_path / "spec.yaml"
        args = ["build", str(fifo), "--out", str(tmp_path / "new")]
    else:
        fifo = folder / name
        fifo.unlink()
        args = {
            "architecture.json": ["diff", f"{TINY}@phi=0", str(folder)],
            "train.yaml": ["train", str(fifo), "--data", "synthetic", "--max-steps", "1"],
        }[name]
    os.mkfifo(fifo)
    result = cli(*args, timeout=60)
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert "not a regular file" in result.stderr
