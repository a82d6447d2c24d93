"""Writing files a run or an export makes, so that faults leave nothing half-done behind.

    temporary_beside(path)   a temporary sibling `.NAME.XXXXXXXX.tmpSUFFIX`, locked while it
                             lives, removed on any exit; the next writer of `path` removes
                             those whose writer died (a SIGKILL, a power cut)
    terminate_raises()       SIGTERM raises, so that `finally` blocks remove temporaries
    require_writable(folder) before any work: the folder (or where it will be made) takes
                             a file, else UserError naming why (read-only, no space)
    write_failure(path, exc) the UserError for a failed write: "no space left on device"
                             says so, with what is free, and that the old file is kept

Imports no torch.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from specc.diagnostics import Interrupted, UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


@contextmanager
def temporary_beside(path: Path, suffix: str = "") -> Iterator[Path]:
    """A fresh temporary file beside `path` for the duration (see the module docstring)."""
    sweep_temporaries(path, suffix)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # alive: a sweeper leaves it alone
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
        os.close(fd)


def sweep_temporaries(path: Path, suffix: str = "") -> list[Path]:
    """Remove the temporaries of `path` that no living writer holds; returns them."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.tmp{re.escape(suffix)}")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    for entry in entries:
        if not pattern.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        if _abandoned(entry.path):
            with suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _abandoned(name: str) -> bool:
    if fcntl is None:  # pragma: no cover
        return False
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@contextmanager
def terminate_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises `Interrupted` (exit 143) instead of ending the
    process where it stands, so cleanup runs (main thread only; elsewhere nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(number: int, _: FrameType | None) -> None:
        raise Interrupted("stopped by SIGTERM; nothing was written", 128 + number)

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def require_writable(folder: Path, what: str) -> None:
    """UserError unless a file can be made in `folder` (or in its nearest existing parent,
    where it does not exist yet): checked before the first step, not after an epoch."""
    place = folder
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        fd, name = tempfile.mkstemp(prefix=".specc-write-check.", dir=place)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise UserError(f"{what} {folder}: cannot write there ({_reason(exc, place)})") from None


def write_failure(path: Path, exc: BaseException) -> UserError:
    """The message for a write of `path` that failed with `exc` (OSError, or torch's
    RuntimeError that hides ENOSPC in its text)."""
    reason = _reason(exc, path.parent)
    kept = f"; the previous {path.name} is kept" if path.exists() else ""
    return UserError(f"cannot write {path}: {reason}{kept}")


def is_write_failure(exc: BaseException) -> bool:
    """Whether `exc` is the file system refusing a write (space, quota, permissions)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
    return isinstance(exc, RuntimeError) and "file write failed" in str(exc)


def _reason(exc: BaseException, where: Path) -> str:
    if isinstance(exc, OSError) and exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return exc.strerror or str(exc)
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return "no space left on device"
    return f"no space left on device ({free / 2**20:.1f} MiB free)"
