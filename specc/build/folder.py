"""Writing a generated folder: specc's own files replaced as one, nothing else touched.

A generated folder holds the files specc renders (`GENERATED`, listed in the folder's
`.specc-manifest`) and whatever the user keeps beside them (a `runs/` folder, notes). A
build replaces only the files the previous build's manifest names and leaves every other
entry alone; a folder without a manifest is not specc's, and a build refuses to write into
it unless it is empty.

The replacement is a small redo log, so a build killed at any instant leaves the folder as
one complete build, old or new:

1. the new files are written into `<folder>/.specc-staging.tmp/` (the old build is intact);
2. that folder is renamed to `.specc-staging/`: the commit point;
3. each staged file is renamed over its old copy, the previous build's files this build no
   longer makes are removed, the manifest goes last; then the staging folder is removed.

The next build or `--check` finds a committed `.specc-staging/` and finishes step 3 (roll
forward), or finds an uncommitted `.specc-staging.tmp/` and removes it. A new folder is
staged beside its place as `.<name>.specc-new/` and renamed into place, so a failed build
creates nothing. Builds into one folder take turns by an exclusive `flock` on
`.<name>.lock` beside it (POSIX; elsewhere builds are not serialised).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from specc.build.lock import locked
from specc.diagnostics import Diagnostic, Location, SpecError

MARKER = "architecture.json"
MANIFEST = ".specc-manifest"
# The files a build generates (`specc.emit.files.render`), besides the manifest.
GENERATED = ("model.py", MARKER, "report.md", "train.yaml")
STAGING, COMMITTED, REMOVE = ".specc-staging.tmp", ".specc-staging", ".specc-remove"


def manifest_text(files: dict[str, str] | list[str]) -> str:
    """The manifest: which files of the folder specc generated (sorted; deterministic) and,
    given their texts, each one's sha256, so that a later build sees a hand edit."""
    data: dict[str, object] = {"generated_by": "specc", "files": sorted(files)}
    if isinstance(files, dict):
        data["sha256"] = {name: _digest(files[name]) for name in sorted(files)}
    return json.dumps(data, indent=2) + "\n"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def edited_files(folder: Path) -> list[str]:
    """Generated files of `folder` changed since specc wrote them (by the manifest's hashes;
    a folder whose manifest has none reports nothing)."""
    try:
        recorded = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(recorded, dict):
        return []
    edited = []
    for name in generated_names(folder):
        path = folder / name
        try:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        if name in recorded and _digest(text) != recorded[name]:
            edited.append(name)
    return edited


def _keep_edits(folder: Path, files: dict[str, str]) -> list[str]:
    """Copy each hand-edited generated file that this build would replace to a free
    `<name>.edited[.N]` beside it; returns what was kept, as 'name -> copy'."""
    kept = []
    for name in edited_files(folder):
        path = folder / name
        if path.read_text(encoding="utf-8", errors="surrogateescape") == files.get(name):
            continue  # the edit is what this build writes anyway
        copy, number = folder / f"{name}.edited", 1
        while copy.exists():
            number += 1
            copy = folder / f"{name}.edited.{number}"
        shutil.copy2(path, copy)
        kept.append(f"{name} -> {copy.name}")
    return kept


@dataclass
class WriteResult:
    folder: Path
    files: list[Path]
    changed: list[str] = field(default_factory=list)  # in check mode: what would change
    kept: list[str] = field(default_factory=list)  # hand-edited files copied aside, "a -> b"

    @property
    def stale(self) -> bool:
        return bool(self.changed)


def default_folder(label: str, root: str | Path = "generated") -> Path:
    """generated/<spec name>-<selector label>."""
    return Path(root) / label


def write(files: dict[str, str], folder: str | Path, *, check: bool = False) -> WriteResult:
    """Write `files` (name -> text, from `specc.emit.files.render`) into `folder` (see the
    module docstring), or with `check` compare them; SpecError (with `--out` as the path)
    when the folder cannot be."""
    folder = Path(folder)
    files = dict(files)
    files[MANIFEST] = manifest_text({n: text for n, text in files.items() if n != MANIFEST})
    paths = [folder / name for name in files if name != MANIFEST]
    _refuse_unsafe(folder)
    # Named siblings (lock, staging) need the folder's own name: `--out .` has none.
    place = Path(os.path.abspath(folder))
    if not place.name:
        message = "the output folder cannot be the file system's root"
        raise SpecError([Diagnostic(message, Location(str(folder)), "--out")])
    if check and not place.parent.is_dir():
        return WriteResult(folder, paths, changed=_differences(folder, files))
    try:
        place.parent.mkdir(parents=True, exist_ok=True)
        with locked(place.with_name(f".{place.name}.lock")):
            recover(place)
            _refuse_unsafe(folder)  # again, now that no other build is writing
            if check:
                return WriteResult(folder, paths, changed=_differences(folder, files))
            kept: list[str] = []
            if place.is_dir():
                kept = _keep_edits(place, files)
                _replace_in_place(place, files)
            else:
                _create(place, files)
    except OSError as exc:
        message = f"cannot write the output folder: {exc.strerror or exc}"
        raise SpecError([Diagnostic(message, Location(str(folder)), "--out")]) from None
    return WriteResult(folder, paths, kept=kept)


def generated_names(folder: Path) -> list[str]:
    """The files of `folder` that the last build generated, by its manifest (none without
    one: nothing else proves specc wrote a file)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        names = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(names, list):
        return []
    # A manifest names plain files directly in the folder; anything else is not ours.
    return [n for n in names if isinstance(n, str) and _plain_name(n) and n != MANIFEST]


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name


# --- recovery -------------------------------------------------------------------------------


def recover(folder: Path) -> None:
    """Finish or undo what a killed build left (call with the folder's lock held)."""
    new = folder.parent / f".{folder.name}.specc-new"
    if new.is_dir():
        shutil.rmtree(new)  # staged beside a folder that was never created
    if (folder / STAGING).is_dir():
        shutil.rmtree(folder / STAGING)
    if (folder / COMMITTED).is_dir():
        _roll_forward(folder)


# --- writing --------------------------------------------------------------------------------


def _write_files(target: Path, files: dict[str, str]) -> None:
    target.mkdir()
    for name, text in files.items():
        with open(
            target / name, "w", encoding="utf-8", errors="surrogateescape", newline="\n"
        ) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def _create(folder: Path, files: dict[str, str]) -> None:
    new = folder.with_name(f".{folder.name}.specc-new")
    try:
        _write_files(new, files)
        new.rename(folder)
    finally:
        shutil.rmtree(new, ignore_errors=True)
    _sync(folder.parent)


def _replace_in_place(folder: Path, files: dict[str, str]) -> None:
    staging = folder / STAGING
    try:
        _write_files(staging, files)
        removed = sorted(set(generated_names(folder)) - set(files))
        (staging / REMOVE).write_text("".join(f"{n}\n" for n in removed), encoding="utf-8")
        _sync(staging)
        staging.rename(folder / COMMITTED)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _sync(folder)
    _roll_forward(folder)


def _roll_forward(folder: Path) -> None:
    """Step 3: move the committed files into place; safe to repeat after a kill."""
    committed = folder / COMMITTED
    try:
        removed = (committed / REMOVE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        removed = []
    names = sorted(p.name for p in committed.iterdir() if p.name not in (REMOVE, MANIFEST))
    for name in names:
        os.replace(committed / name, folder / name)
    for name in removed:
        if _plain_name(name) and (folder / name).is_file():
            (folder / name).unlink()
    if (committed / MANIFEST).exists():
        os.replace(committed / MANIFEST, folder / MANIFEST)
    shutil.rmtree(committed)
    _sync(folder)


def _sync(folder: Path) -> None:
    """Make renames in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- safety and --check ---------------------------------------------------------------------


def _refuse_unsafe(folder: Path) -> None:
    where = Location(str(folder))
    if folder.exists() and not folder.is_dir():
        raise SpecError([Diagnostic("the output path is a file, not a folder", where, "--out")])
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise SpecError([Diagnostic(f"{parent} is a file, not a folder", where, "--out")])
    if folder.is_dir() and any(folder.iterdir()) and not is_specc_output(folder):
        raise SpecError(
            [
                Diagnostic(
                    "the output folder exists and is not a specc output; refusing to write into it",
                    where,
                    "--out",
                    "choose another --out",
                )
            ]
        )
    for name in GENERATED:
        if (folder / name).exists() and not (folder / name).is_file():
            message = f"{folder / name} is not a file; specc writes a file of that name"
            raise SpecError([Diagnostic(message, where, "--out")])


def is_specc_output(folder: Path) -> bool:
    """Whether `folder` was written by specc: it holds a manifest (or a build's staging)."""
    return any((folder / name).exists() for name in (MANIFEST, STAGING, COMMITTED))


def _differences(folder: Path, files: dict[str, str]) -> list[str]:
    """What a build would change among specc's own files; other files are not compared."""
    changed = []
    for name, text in files.items():
        path = folder / name
        if name == MANIFEST and path.exists():  # its hashes follow the files: not compared
            continue
        if not path.exists():
            changed.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            edited = " (edited by hand: a build keeps your copy beside it)"
            note = edited if folder.is_dir() and name in edited_files(folder) else ""
            changed.append(f"{path}: would change{note}")
    if folder.is_dir():
        extra = sorted(set(generated_names(folder)) - set(files))
        changed += [f"{folder / name}: generated before, no longer made" for name in extra]
    return changed
