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

The next build (or a reader: `settle`) finds a committed `.specc-staging/` and finishes
step 3 (roll forward), or finds an uncommitted `.specc-staging.tmp/` and removes it. A new
folder is staged beside its place as `.<name>.specc-new/` and renamed into place, so a
failed build creates nothing. `--check` changes nothing: it reports an interrupted build
as stale.

Recovery trusts nothing the folder holds (anyone could have put it there): it never
follows a symbolic link, moves only staged files whose hash the staged manifest records,
and deletes only a file that the manifest in force names with a matching hash (a staging
folder's own files by name); anything else stops the build with a message naming it.
Builds into one folder take turns by an exclusive `flock` on `.<name>.lock` beside it
(POSIX; elsewhere builds are not serialised).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
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


# A generated file is a few MiB at most (architecture.json of L2: about 1 MiB); a bigger
# "generated file" is not specc's and is never read whole.
MAX_FILE_BYTES = 64 * 2**20


def read_plain(path: Path) -> str | None:
    """The text of `path` if it is a regular file (not a link, FIFO or device: opening
    those can hang or read without end) of at most MAX_FILE_BYTES; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        chunks, size = [], 0
        while chunk := os.read(fd, 2**20):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                return None
        return b"".join(chunks).decode("utf-8", "surrogateescape")
    except OSError:
        return None
    finally:
        os.close(fd)


def _manifest(folder: Path) -> dict[str, object]:
    """The folder's manifest as a dict ({} when absent, not a plain file, or corrupt)."""
    text = read_plain(folder / MANIFEST)
    try:
        data = json.loads(text) if text is not None else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _recorded_hashes(folder: Path) -> dict[str, str]:
    recorded = _manifest(folder).get("sha256")
    return recorded if isinstance(recorded, dict) else {}


def proven(folder: Path, name: str, hashes: dict[str, str]) -> bool:
    """Whether `folder/name` is a regular file (no link) whose text has the hash `hashes`
    records for it: the proof that specc wrote it and nobody changed it since."""
    text = read_plain(folder / name)
    return text is not None and name in hashes and _digest(text) == hashes[name]


def edited_files(folder: Path) -> list[str]:
    """Generated files of `folder` changed since specc wrote them (by the manifest's hashes;
    a folder whose manifest has none reports nothing)."""
    recorded = _recorded_hashes(folder)
    edited = []
    for name in generated_names(folder):
        text = read_plain(folder / name)
        if text is not None and name in recorded and _digest(text) != recorded[name]:
            edited.append(name)
    return edited


def _keep_edits(folder: Path, files: dict[str, str]) -> list[str]:
    """Copy each hand-edited generated file that this build would replace to a free
    `<name>.edited[.N]` beside it; returns what was kept, as 'name -> copy'."""
    kept = []
    for name in edited_files(folder):
        path = folder / name
        if read_plain(path) == files.get(name):
            continue  # the edit is what this build writes anyway
        copy, number = folder / f"{name}.edited", 1
        while os.path.lexists(copy):  # a dangling link is taken too: never written through
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
    if check:  # no lock, no recovery: --check writes nothing, not even a lock file
        return WriteResult(folder, paths, changed=_differences(folder, files))
    try:
        place.parent.mkdir(parents=True, exist_ok=True)
        with locked(place.with_name(f".{place.name}.lock")):
            recover(place)
            _refuse_unsafe(folder)  # again, now that no other build is writing
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
    names = _manifest(folder).get("files")
    if not isinstance(names, list):
        return []
    # A manifest names plain files directly in the folder; anything else is not ours.
    return [n for n in names if isinstance(n, str) and _plain_name(n) and n != MANIFEST]


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name


# --- recovery -------------------------------------------------------------------------------


def recover(folder: Path) -> None:
    """Finish or undo what a killed build left (call with the folder's lock held);
    SpecError when what is there is not what a build leaves (see the module docstring)."""
    new = folder.parent / f".{folder.name}.specc-new"
    if os.path.lexists(new):
        _discard_staging(new, folder)  # staged beside a folder that was never created
    if os.path.lexists(folder / STAGING):
        _discard_staging(folder / STAGING, folder)
    if os.path.lexists(folder / COMMITTED):
        _roll_forward(folder)


def interrupted(folder: Path) -> bool:
    """Whether a killed build left staging in or beside `folder` (see `recover`)."""
    names = (folder / STAGING, folder / COMMITTED)
    return any(os.path.lexists(path) for path in names)


def settle(folder: Path) -> None:
    """For readers (train, load_model, export, diff): make `folder` hold one complete build
    by finishing, under the lock, a build a kill interrupted; nothing to do otherwise.
    SpecError naming the repair when it cannot (a read-only folder, a foreign staging)."""
    if not interrupted(folder):
        return
    place = Path(os.path.abspath(folder))
    try:
        with locked(place.with_name(f".{place.name}.lock")):
            recover(place)
    except (OSError, SpecError) as exc:
        reason = exc.diagnostics[0].message if isinstance(exc, SpecError) else exc.strerror
        message = (
            f"a build of this folder was interrupted and left files of two builds, and "
            f"finishing it failed ({reason})"
        )
        hint = f"rebuild it: specc build SPEC --out {folder}"
        raise SpecError([Diagnostic(message, Location(str(folder)), hint=hint)]) from None


def _not_ours(path: Path, why: str) -> SpecError:
    message = f"{path.name} {why}: not what a specc build leaves; refusing to touch it"
    hint = "move it out of the way (it may hold your files), then build again"
    return SpecError([Diagnostic(message, Location(str(path)), "--out", hint)])


def _real_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _discard_staging(staging: Path, folder: Path) -> None:
    """Remove an uncommitted staging folder: the files a build stages there, by name, as
    regular files; refuse a link, a file, or a folder holding anything else."""
    if not _real_folder(staging):
        raise _not_ours(staging, "is a link or a file, not a folder")
    for entry in os.scandir(staging):
        if entry.name in (*GENERATED, MANIFEST, REMOVE) and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
    left = sorted(os.listdir(staging))
    if left:
        raise _not_ours(staging, f"holds files specc does not stage ({', '.join(left)})")
    os.rmdir(staging)


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
    """Step 3: move the committed files into place; safe to repeat after a kill. Moves
    only files the staged manifest's hashes prove, deletes only old files the manifest in
    force proves; SpecError, touching nothing, when the staging is not a build's."""
    committed = folder / COMMITTED
    staged = _verified_staging(committed)
    removed = (read_plain(committed / REMOVE) or "").splitlines()
    for name in staged:
        os.replace(committed / name, folder / name)
    old = _recorded_hashes(folder)
    for name in removed:
        if _plain_name(name) and proven(folder, name, old):
            (folder / name).unlink()
    if os.path.lexists(committed / MANIFEST):
        os.replace(committed / MANIFEST, folder / MANIFEST)
    _discard_staging(committed, folder)
    _sync(folder)


def _verified_staging(committed: Path) -> list[str]:
    """The staged files to move (sorted), each a regular file whose hash the staged
    manifest records; SpecError when anything in the folder is not such a file."""
    if not _real_folder(committed):
        raise _not_ours(committed, "is a link or a file, not a folder")
    hashes = _recorded_hashes(committed)
    names, foreign = [], []
    for entry in sorted(os.scandir(committed), key=lambda e: e.name):
        if entry.name in (MANIFEST, REMOVE) and entry.is_file(follow_symlinks=False):
            continue
        if entry.name in GENERATED and proven(committed, entry.name, hashes):
            names.append(entry.name)
        else:
            foreign.append(entry.name)
    if foreign or (names and not os.path.lexists(committed / MANIFEST)):
        listed = ", ".join(foreign) or "no manifest"
        raise _not_ours(committed, f"holds files no manifest proves specc wrote ({listed})")
    return names


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
    """Whether `folder` was written by specc: it holds a manifest (a regular file that says
    so) or a build's staging (a real folder; recovery then checks what it holds)."""
    if _manifest(folder).get("generated_by") == "specc":
        return True
    return any(_real_folder(folder / name) for name in (STAGING, COMMITTED))


def _differences(folder: Path, files: dict[str, str]) -> list[str]:
    """What a build would change among specc's own files; other files are not compared."""
    changed = []
    if interrupted(folder) or os.path.lexists(folder.parent / f".{folder.name}.specc-new"):
        changed.append(f"{folder}: a build was interrupted here; `specc build` finishes it")
    for name, text in files.items():
        path = folder / name
        if name == MANIFEST and os.path.lexists(path):  # its hashes follow the files
            continue
        if not os.path.lexists(path):
            changed.append(f"{path}: missing")
        elif read_plain(path) != text:
            edited = " (edited by hand: a build keeps your copy beside it)"
            note = edited if folder.is_dir() and name in edited_files(folder) else ""
            changed.append(f"{path}: would change{note}")
    if folder.is_dir():
        extra = sorted(set(generated_names(folder)) - set(files))
        changed += [f"{folder / name}: generated before, no longer made" for name in extra]
    return changed
