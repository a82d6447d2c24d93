"""An exclusive lock on a file beside an output folder, so that builds take turns.

`fcntl.flock` on `path`, polled until `WAIT_S` seconds have passed. The holder removes the
lock file before releasing it, so a waiter that locked the removed file checks that the
path still names the file it holds and otherwise starts again (the usual lock-file
dance; without it a third process could lock a fresh file at the same time). Where
`fcntl` does not exist (Windows) the lock is a no-op.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from specc.diagnostics import Diagnostic, Location, SpecError

WAIT_S = 120.0
_POLL_S = 0.05

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


@contextmanager
def locked(path: Path, wait_s: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the duration; SpecError if it stays taken."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = _acquire(path, WAIT_S if wait_s is None else wait_s)
    try:
        yield
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)  # closing releases the lock


def _acquire(path: Path, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)  # never a link's target
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                folder = path.with_name(path.name.removeprefix(".").removesuffix(".lock"))
                message = (
                    f"another specc build is writing this folder (waited {wait_s:g} s for "
                    f"the lock {path})"
                )
                raise SpecError([Diagnostic(message, Location(str(folder)), "--out")]) from None
            time.sleep(_POLL_S)
            continue
        held = os.fstat(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        if (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino):
            return fd
        os.close(fd)
