"""Writing a generated folder: all files or none, and a `--check` mode for CI.

Files are rendered in memory first, written into a temporary sibling folder, then moved
into place with renames, so an interrupted or failed build never leaves a half-written
folder. An existing folder is replaced only when it is empty or a previous specc output
(it holds an `architecture.json` written by specc); anything else is refused.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from specc import jsonfmt
from specc.architecture import Architecture
from specc.backends.markdown import report_markdown
from specc.backends.pytorch.emit import emit_pytorch
from specc.backends.training import emit_training
from specc.diagnostics import Diagnostic, Location, SpecError

MARKER = "architecture.json"


def render(arch: Architecture) -> dict[str, str]:
    """Every file of the generated folder, by name, as text."""
    return {
        "model.py": emit_pytorch(arch),
        MARKER: jsonfmt.dumps(arch.to_dict()) + "\n",
        "report.md": report_markdown(arch),
        "train.yaml": emit_training(arch),
    }


@dataclass
class WriteResult:
    folder: Path
    files: list[Path]
    changed: list[str] = field(default_factory=list)  # in check mode: what would change

    @property
    def stale(self) -> bool:
        return bool(self.changed)


def default_folder(arch: Architecture, root: str | Path = "generated") -> Path:
    return Path(root) / arch.label


def write(arch: Architecture, folder: str | Path, *, check: bool = False) -> WriteResult:
    folder = Path(folder)
    files = render(arch)
    paths = [folder / name for name in files]
    _refuse_unsafe(folder)
    if check:
        return WriteResult(folder, paths, changed=_differences(folder, files))
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
        _replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return WriteResult(folder, paths)


def _refuse_unsafe(folder: Path) -> None:
    where = Location(str(folder))
    if folder.exists() and not folder.is_dir():
        raise SpecError([Diagnostic("the output path is a file, not a folder", where, "--out")])
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise SpecError([Diagnostic(f"{parent} is a file, not a folder", where, "--out")])
    if folder.is_dir() and any(folder.iterdir()) and not _is_specc_output(folder):
        raise SpecError(
            [
                Diagnostic(
                    "the output folder exists and is not a specc output; refusing to replace it",
                    where,
                    "--out",
                    "choose another --out or remove the folder",
                )
            ]
        )


def _is_specc_output(folder: Path) -> bool:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "specc" in data


def _replace(staging: Path, folder: Path) -> None:
    if not folder.exists():
        staging.rename(folder)
        return
    retired = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    folder.rename(retired)
    try:
        staging.rename(folder)
    except OSError:
        retired.rename(folder)  # put the previous output back
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _differences(folder: Path, files: dict[str, str]) -> list[str]:
    changed = []
    for name, text in files.items():
        path = folder / name
        if not path.exists():
            changed.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            changed.append(f"{path}: would change")
    if folder.is_dir():
        extra = sorted(p.name for p in folder.iterdir() if p.name not in files)
        changed += [f"{folder / name}: not produced by this build" for name in extra]
    return changed
