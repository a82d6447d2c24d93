"""Writing one file whole or not at all, for the files tools write (CSV, plots, npz)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from specc.diagnostics import UserError


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step, the file's mode as the umask makes it (a
    temporary file is 0600); UserError naming the folder when it cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"{path}: the folder {folder} does not exist (specc does not create it)")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"{path}: cannot write in {folder} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        as_created(temp)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write it ({exc.strerror})") from None


def umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_created(path: str | Path) -> None:
    """Give `path` the mode of a newly created regular file: 0666 less the umask (a file
    renamed from a `tempfile.mkstemp` temporary would otherwise stay private, 0600)."""
    os.chmod(path, 0o666 & ~umask())
