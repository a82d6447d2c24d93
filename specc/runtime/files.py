"""File modes of what the runtime writes. A temporary file from `tempfile.mkstemp` is
private (0600); a checkpoint or an exported model renamed from one would stay so, unlike
every other output (0644 under the usual umask 022), so it gets the mode a plain `open`
would have given it."""

from __future__ import annotations

import os
from pathlib import Path


def umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_created(path: str | Path) -> None:
    """Give `path` the mode of a newly created regular file: 0666 less the umask."""
    os.chmod(path, 0o666 & ~umask())
