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

from specc.diagnostics import Diagnostic, Location, SpecError, UserError

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


@contextmanager
def owned(path: Path, what: str) -> Iterator[None]:
    """Hold `path`'s lock while one process owns `what` (a run folder, a results file):
    a second owner is refused at once with a message naming the first one's process id,
    which the holder writes into the lock file. The file stays (its removal would race a
    waiter); a lock left by a dead process is free, since the kernel drops it."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise UserError(f"{what}: cannot take its lock {path} ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise UserError(
                f"{what} is in use by another specc process (pid {holder}; lock {path})",
                hint="wait for it to finish, or choose another folder or file",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
